/*
 * The exit of a command, learned through its pidfd on the event loop: the
 * pidfd turns readable when the process exits, then waitid(P_PIDFD) reaps
 * exactly that process. No SIGCHLD race, no pid that may meanwhile belong to
 * another process.
 */
#include "trl_native.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct exit_watch {
  uv_poll_t poll;
  int pidfd;
  struct trl_loop_callback callback;
};

static void on_closed(uv_handle_t *handle) {
  struct exit_watch *w = handle->data;
  close(w->pidfd);
  free(w);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  struct exit_watch *w = poll->data;
  siginfo_t si = {0};
  int rc;
  do rc = waitid(P_PIDFD, w->pidfd, &si, WEXITED | WNOHANG | __WALL); /* __WALL: a child cloned with exit signal 0 (spawn.c) */
  while (rc < 0 && errno == EINTR);
  if (status == 0 && rc == 0 && si.si_pid == 0) return; /* not yet */

  napi_env env = w->callback.env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value code, signal, argv[2];
  napi_get_null(env, &code);
  napi_get_null(env, &signal);
  if (rc == 0 && si.si_code == CLD_EXITED) napi_create_int32(env, si.si_status, &code);
  else if (rc == 0) napi_create_int32(env, si.si_status, &signal);
  else napi_create_int32(env, -1, &code); /* reaped elsewhere: report as failed */
  argv[0] = code;
  argv[1] = signal;
  uv_close((uv_handle_t *)poll, on_closed);
  trl_loop_callback_call(&w->callback, 2, argv);
  trl_loop_callback_release(&w->callback);
  napi_close_handle_scope(env, scope);
}

/* watchExit(pidfd, callback(code|null, signal|null)): takes ownership of pidfd. */
napi_value trl_watch_exit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t pidfd;
  if (argc < 2 || napi_get_value_int32(env, args[0], &pidfd) != napi_ok) {
    napi_throw_type_error(env, NULL, "watchExit(pidfd, callback)");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  struct exit_watch *w = calloc(1, sizeof *w);
  if (!w) return trl_throw_errno(env, ENOMEM, "watchExit");
  w->pidfd = pidfd;
  w->poll.data = w;
  int err = uv_poll_init(loop, &w->poll, pidfd);
  if (err == 0) err = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (err != 0) {
    free(w);
    return trl_throw_errno(env, -err, "uv_poll");
  }
  trl_loop_callback_init(env, &w->callback, args[1], "trl.exit");
  return NULL;
}

/* sendSignal(pidfd, signo): the leader itself, never a recycled pid. */
napi_value trl_send_signal(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  int32_t pidfd, sig;
  if (argc < 2 || napi_get_value_int32(env, args[0], &pidfd) != napi_ok || napi_get_value_int32(env, args[1], &sig) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendSignal(pidfd, signo)");
    return NULL;
  }
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) return trl_throw_errno(env, errno, "pidfd_send_signal");
  return NULL;
}
