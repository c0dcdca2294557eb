/*
 * trl_native: the daemon's native process layer (N-API, C). Exports
 *   harden()                                  not dumpable, RLIMIT_CORE 0
 *   spawn(file, argv, envp, cwd, rlimits, user, cgroup, cb[, pty])
 *                                             → {pid, pidfd, fds, cgroupRefusal}, or throws
 *                                             cb(err|null) once the child exec'd or failed before
 *                                             user: null or {uid, gid, groups}
 *                                             cgroup: null or the leaf's directory
 *                                             pty: {cols, rows}: fds[0] is the master, fds[1..2] -1
 *   resizePty(masterFd, cols, rows)
 *   watchExit(pidfd, cb)                      cb(code|null, signo|null)
 *   sendSignal(pidfd, signo)
 *   becomeSubreaper()                         orphans of commands re-parented to the daemon
 *   reapChild(pid)                            true once an adopted child has ended (reaped now)
 *   anyChildEnded()                           some child waits to be reaped (none reaped)
 *   readFd, readStart, readStop, readInto, readClose    a command's output without net.Socket (fd_read.c)
 *   jsonRunEnd(buffer, from, to, valid)       the JSON string encoder's scan (json_scan.c)
 */
#include "trl_native.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The object spawn returns: the child runs; whether it reached exec comes later. */
static napi_value started(napi_env env, struct trl_spawn_job *job) {
  napi_value result, v, fds;
  napi_create_object(env, &result);
  napi_create_int32(env, job->pid, &v);
  napi_set_named_property(env, result, "pid", v);
  napi_create_int32(env, job->pidfd, &v);
  napi_set_named_property(env, result, "pidfd", v);
  napi_create_array_with_length(env, TRL_STDIO_COUNT, &fds);
  for (int i = 0; i < TRL_STDIO_COUNT; i++) {
    napi_create_int32(env, job->parent_fd[i], &v);
    napi_set_element(env, fds, i, v);
  }
  napi_set_named_property(env, result, "fds", fds);
  if (job->cgroup_refusal) napi_create_int32(env, job->cgroup_refusal, &v);
  else napi_get_null(env, &v);
  napi_set_named_property(env, result, "cgroupRefusal", v);
  return result;
}

napi_value trl_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value args[9];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "spawn(file, argv, envp, cwd, rlimits, user, cgroup, callback[, pty])");
    return NULL;
  }
  struct trl_spawn_job *job = calloc(1, sizeof *job);
  if (!job) return trl_throw_errno(env, ENOMEM, "spawn");
  for (int i = 0; i < TRL_STDIO_COUNT; i++) job->parent_fd[i] = job->child_fd[i] = -1;
  job->exec_report = job->exec_report_child = -1;
  job->pid = -1;
  job->pty_slave = -1;
  napi_value no_pty;
  napi_get_undefined(env, &no_pty);
  if (trl_read_pty(env, argc > 8 ? args[8] : no_pty, job) < 0) {
    trl_spawn_release(job);
    return NULL;
  }
  if (!(job->file = trl_string_arg(env, args[0])) || !(job->argv = trl_string_array(env, args[1])) ||
      !(job->envp = trl_string_array(env, args[2])) || !(job->cwd = trl_string_arg(env, args[3])) ||
      trl_read_rlimits(env, args[4], job) < 0 || trl_read_user(env, args[5], job) < 0 ||
      trl_read_cgroup(env, args[6], job) < 0) {
    trl_spawn_release(job);
    return NULL;
  }
  napi_valuetype type;
  if (napi_typeof(env, args[7], &type) != napi_ok || type != napi_function) {
    trl_spawn_release(job);
    napi_throw_type_error(env, NULL, "spawn: the callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (trl_spawn_start(loop, job) < 0) {
    napi_value error = trl_errno_error(env, job->err, job->err_step ? job->err_step : "spawn");
    trl_spawn_dispose(job);
    napi_throw(env, error);
    return NULL;
  }
  napi_value result = started(env, job);
  trl_exec_report_start(env, job, args[7]);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"harden", NULL, trl_harden, NULL, NULL, NULL, napi_default, NULL},
      {"spawn", NULL, trl_spawn, NULL, NULL, NULL, napi_default, NULL},
      {"watchExit", NULL, trl_watch_exit, NULL, NULL, NULL, napi_default, NULL},
      {"sendSignal", NULL, trl_send_signal, NULL, NULL, NULL, napi_default, NULL},
      {"resizePty", NULL, trl_pty_resize, NULL, NULL, NULL, napi_default, NULL},
      {"becomeSubreaper", NULL, trl_become_subreaper, NULL, NULL, NULL, napi_default, NULL},
      {"reapChild", NULL, trl_reap_child, NULL, NULL, NULL, napi_default, NULL},
      {"anyChildEnded", NULL, trl_any_child_ended, NULL, NULL, NULL, napi_default, NULL},
      {"trimMemory", NULL, trl_trim_memory, NULL, NULL, NULL, napi_default, NULL},
      {"readFd", NULL, trl_read_fd, NULL, NULL, NULL, napi_default, NULL},
      {"readStart", NULL, trl_read_start, NULL, NULL, NULL, napi_default, NULL},
      {"readStop", NULL, trl_read_stop, NULL, NULL, NULL, napi_default, NULL},
      {"readInto", NULL, trl_read_into, NULL, NULL, NULL, napi_default, NULL},
      {"readClose", NULL, trl_read_close, NULL, NULL, NULL, napi_default, NULL},
      {"jsonRunEnd", NULL, trl_json_run_end, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
