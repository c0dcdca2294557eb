/*
 * The daemon makes itself a hard target for the commands it runs (same uid):
 * not dumpable, so /proc/<daemon>/{environ,mem,fd} and ptrace are refused to
 * them (and a crash writes no core holding secrets). A command gets its own
 * dumpable flag back at execve, so this never reaches the children.
 */
#include "trl_native.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

napi_value trl_harden(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return trl_throw_errno(env, errno, "prctl(PR_SET_DUMPABLE)");
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) < 0) return trl_throw_errno(env, errno, "setrlimit(RLIMIT_CORE)");
  napi_value result;
  int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  napi_create_object(env, &result);
  napi_value v;
  napi_get_boolean(env, dumpable == 0, &v);
  napi_set_named_property(env, result, "dumpable_off", v);
  napi_get_boolean(env, true, &v);
  napi_set_named_property(env, result, "core_limit_zero", v);
  return result;
}
