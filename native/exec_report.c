/*
 * Whether a command reached exec, learned on the event loop: the child holds
 * the write end of a close-on-exec pipe and never writes to it, so its read
 * end turns readable (EOF) once the kernel has closed that end — at exec,
 * after the child left the daemon's memory, or at its exit. Then the job's
 * error (written by the child before it exited 127) is final, and the job
 * and the child's stack are free to go.
 */
#include "trl_native.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

static void on_closed(uv_handle_t *handle) {
  trl_spawn_release(handle->data);
}

/* True once the write end is gone: EOF (the child never writes). */
static int report_closed(int fd) {
  char byte;
  ssize_t n = read(fd, &byte, 1);
  return n >= 0 || (errno != EAGAIN && errno != EINTR);
}

static void on_readable(uv_poll_t *watch, int status, int events) {
  (void)events;
  struct trl_spawn_job *job = watch->data;
  if (status == 0 && !report_closed(job->exec_report)) return;
  if (status < 0) {
    /* The loop cannot watch it any more: wait here, as the child may still be in our memory. */
    struct pollfd p = {.fd = job->exec_report, .events = POLLIN};
    while (!report_closed(job->exec_report)) poll(&p, 1, -1);
  }
  uv_close((uv_handle_t *)watch, on_closed);

  napi_env env = job->callback.env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[1];
  const char *step = __atomic_load_n(&job->child_step, __ATOMIC_ACQUIRE);
  if (step) argv[0] = trl_errno_error(env, job->child_errno, step);
  else napi_get_null(env, &argv[0]);
  trl_loop_callback_call(&job->callback, 1, argv);
  trl_loop_callback_release(&job->callback);
  napi_close_handle_scope(env, scope);
}

int trl_exec_report_init(uv_loop_t *loop, struct trl_spawn_job *job) {
  job->poll.data = job;
  int err = uv_poll_init(loop, &job->poll, job->exec_report);
  if (err == 0) job->poll_ready = 1;
  return err;
}

void trl_exec_report_start(napi_env env, struct trl_spawn_job *job, napi_value callback) {
  trl_loop_callback_init(env, &job->callback, callback, "trl.exec");
  /* Cannot fail on an initialised handle that is not closing; a bad fd would
   * come back as a status, handled above. */
  uv_poll_start(&job->poll, UV_READABLE, on_readable);
}

void trl_spawn_dispose(struct trl_spawn_job *job) {
  if (job->poll_ready) uv_close((uv_handle_t *)&job->poll, on_closed);
  else trl_spawn_release(job);
}
