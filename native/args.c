/* From JavaScript values to what the child needs, and errno errors back. */
#include "trl_native.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

napi_value trl_errno_error(napi_env env, int err, const char *step) {
  napi_value msg, error, v;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  return error;
}

napi_value trl_throw_errno(napi_env env, int err, const char *step) {
  napi_throw(env, trl_errno_error(env, err, step));
  return NULL;
}

/* A copy of a JS string, or NULL (with a pending exception) when it is not one or holds a NUL. */
char *trl_string_arg(napi_env env, napi_value value) {
  size_t len;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, value, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, NULL, "a string holds a NUL byte");
    return NULL;
  }
  return s;
}

char **trl_string_array(napi_env env, napi_value array) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an array of strings");
    return NULL;
  }
  char **out = calloc(n + 1, sizeof *out);
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, array, i, &item);
    out[i] = trl_string_arg(env, item);
    if (!out[i]) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

/* rlimits: a flat array [resource, soft, hard, ...]; -1 means RLIM_INFINITY. */
int trl_read_rlimits(napi_env env, napi_value array, struct trl_spawn_job *job) {
  uint32_t n;
  if (napi_get_array_length(env, array, &n) != napi_ok || n % 3 != 0 || n / 3 > TRL_MAX_RLIMITS) {
    napi_throw_type_error(env, NULL, "rlimits: [resource, soft, hard, ...]");
    return -1;
  }
  job->n_rlimits = (int)(n / 3);
  for (uint32_t i = 0; i < n / 3; i++) {
    napi_value v;
    double d[3];
    for (int k = 0; k < 3; k++) {
      napi_get_element(env, array, i * 3 + k, &v);
      if (napi_get_value_double(env, v, &d[k]) != napi_ok) {
        napi_throw_type_error(env, NULL, "rlimits: numbers expected");
        return -1;
      }
    }
    job->rlimit_resource[i] = (int)d[0];
    job->rlimit_value[i].rlim_cur = d[1] < 0 ? RLIM_INFINITY : (rlim_t)d[1];
    job->rlimit_value[i].rlim_max = d[2] < 0 ? RLIM_INFINITY : (rlim_t)d[2];
  }
  return 0;
}

/* user: null, or {uid, gid, groups: number[]} for a command run as another user. */
int trl_read_user(napi_env env, napi_value user, struct trl_spawn_job *job) {
  napi_valuetype type;
  napi_typeof(env, user, &type);
  if (type == napi_null || type == napi_undefined) return 0;
  napi_value v, groups;
  uint32_t uid, gid, n;
  if (napi_get_named_property(env, user, "uid", &v) != napi_ok || napi_get_value_uint32(env, v, &uid) != napi_ok ||
      napi_get_named_property(env, user, "gid", &v) != napi_ok || napi_get_value_uint32(env, v, &gid) != napi_ok ||
      napi_get_named_property(env, user, "groups", &groups) != napi_ok || napi_get_array_length(env, groups, &n) != napi_ok ||
      n > TRL_MAX_GROUPS) {
    napi_throw_type_error(env, NULL, "user: {uid, gid, groups} with at most 64 groups");
    return -1;
  }
  job->switch_user = 1;
  job->uid = (uid_t)uid;
  job->gid = (gid_t)gid;
  job->n_groups = (int)n;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t g;
    napi_get_element(env, groups, i, &v);
    if (napi_get_value_uint32(env, v, &g) != napi_ok) {
      napi_throw_type_error(env, NULL, "user.groups: numbers expected");
      return -1;
    }
    job->groups[i] = (gid_t)g;
  }
  return 0;
}


/* cgroup: null, or the absolute path of the command's cgroup leaf. */
int trl_read_cgroup(napi_env env, napi_value dir, struct trl_spawn_job *job) {
  napi_valuetype type;
  napi_typeof(env, dir, &type);
  if (type == napi_null || type == napi_undefined) return 0;
  if (!(job->cgroup_dir = trl_string_arg(env, dir))) return -1;
  static const char procs[] = "/cgroup.procs";
  size_t len = strlen(job->cgroup_dir);
  if (job->cgroup_dir[0] != '/' || !(job->cgroup_procs = malloc(len + sizeof procs))) {
    napi_throw_type_error(env, NULL, "cgroup: an absolute directory path");
    return -1;
  }
  memcpy(job->cgroup_procs, job->cgroup_dir, len);
  memcpy(job->cgroup_procs + len, procs, sizeof procs);
  return 0;
}
