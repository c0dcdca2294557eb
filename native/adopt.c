/*
 * The daemon as child subreaper: what a command leaves running when its
 * leader ends (a double-forked, setsid'd daemon included) is re-parented to
 * trld instead of PID 1, so it keeps a parent link that its own process
 * cannot cut, whatever it does to its session, group or environment.
 *
 * The kernel hands an orphan to the subreaper's first live thread, the main
 * one, which also clones the commands' leaders; JavaScript lists the main
 * thread's children from /proc/<pid>/task/<pid>/children and leaves the
 * leaders out by pid (the daemon forks nothing else in native mode), so the
 * rest are the adopted. The adopted must be reaped by trld: on
 * SIGCHLD, reapChild for each, without an fd per process (a command could
 * leave thousands).
 */
#include "trl_native.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* becomeSubreaper(): PR_SET_CHILD_SUBREAPER on the daemon. */
napi_value trl_become_subreaper(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return trl_throw_errno(env, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  return NULL;
}

/* reapChild(pid): true when that child had ended and is reaped now (or is
 * no child any more), false while it runs. Only ever asked of adopted pids:
 * the commands' leaders are reaped through their pidfds. */
napi_value trl_reap_child(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, NULL, NULL);
  int32_t pid;
  if (argc < 1 || napi_get_value_int32(env, arg, &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reapChild(pid)");
    return NULL;
  }
  siginfo_t si = {0};
  int rc;
  do rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  napi_value result;
  napi_get_boolean(env, rc < 0 || si.si_pid == pid, &result);
  return result;
}

/* anyChildEnded(): whether some child of the daemon has ended and waits to
 * be reaped (it is not reaped here: WNOWAIT). A command's leader sends
 * SIGCHLD too when it ends (exec made its exit signal SIGCHLD again), so
 * after a SIGCHLD one call tells whether the adopted need a look at all,
 * instead of one waitid for each of them at every command's end. */
napi_value trl_any_child_ended(napi_env env, napi_callback_info info) {
  (void)info;
  siginfo_t si = {0};
  int rc;
  do rc = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL);
  while (rc < 0 && errno == EINTR);
  napi_value result;
  /* No children at all (ECHILD): nothing ended; any other failure: look. */
  napi_get_boolean(env, rc < 0 ? errno != ECHILD : si.si_pid != 0, &result);
  return result;
}
