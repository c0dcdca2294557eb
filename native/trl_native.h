/* The daemon's native process layer: shared declarations. */
#ifndef TRL_NATIVE_H
#define TRL_NATIVE_H

#include <node_api.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <uv.h>

#define TRL_STDIO_COUNT 4 /* stdin, stdout, stderr, state pipe on fd 3 */
#define TRL_EXEC_REPORT_FD 4 /* the child's end of the exec report: closes at exec or exit */
#define TRL_MAX_RLIMITS 16
#define TRL_MAX_GROUPS 64

/* loop_callback.c: a JavaScript function called from the event loop. */
struct trl_loop_callback {
  napi_env env;
  napi_ref fn;
  napi_async_context context;
};
void trl_loop_callback_init(napi_env env, struct trl_loop_callback *cb, napi_value fn, const char *name);
void trl_loop_callback_call(struct trl_loop_callback *cb, size_t argc, napi_value *argv);
void trl_loop_callback_release(struct trl_loop_callback *cb);

/* Everything the child needs, prepared by the parent before clone: the child
 * shares the parent's memory until exec and must not allocate. The job and
 * the child's stack are kept until the exec report says the child is done
 * with that memory. */
struct trl_spawn_job {
  char *file;
  char **argv;
  char **envp;
  char *cwd;
  int n_rlimits;
  int rlimit_resource[TRL_MAX_RLIMITS];
  struct rlimit rlimit_value[TRL_MAX_RLIMITS];
  /* Another user for the command (switch_user): groups, gid, uid. */
  int switch_user;
  uid_t uid;
  gid_t gid;
  int n_groups;
  gid_t groups[TRL_MAX_GROUPS];
  /* The command's cgroup leaf (NULL: none): the child starts in it (clone3
   * CLONE_INTO_CGROUP), or writes itself into its cgroup.procs before exec. */
  char *cgroup_dir;
  char *cgroup_procs;
  int enter_cgroup_in_child;
  int cgroup_refusal; /* errno of a refused CLONE_INTO_CGROUP, 0 if none */
  /* A terminal (pty.c): the slave is the child's 0..2 and controlling
   * terminal, the master the daemon's parent_fd[0]; child_fd[0..2] stay -1. */
  int pty;
  unsigned short pty_cols, pty_rows;
  int pty_slave;
  int child_fd[TRL_STDIO_COUNT];  /* the child's ends, moved onto 0..3 */
  int parent_fd[TRL_STDIO_COUNT]; /* the daemon's ends */
  /* A close-on-exec pipe: the child holds the write end (on fd 4), the
   * daemon polls the read end; its EOF means the child exec'd or exited. */
  int exec_report_child;
  int exec_report;
  /* Written by the child when a step before exec (or exec) fails. */
  int child_errno;
  const char *child_step;
  void *stack;
  /* Results for the parent. */
  int pid;
  int pidfd;
  int err;
  const char *err_step;
  /* Told of the exec report on the event loop (exec_report.c). */
  uv_poll_t poll;
  int poll_ready; /* initialised: the job goes with the handle's close */
  struct trl_loop_callback callback;
};

/* child.c: runs in the child until exec; returns only on failure. */
int trl_child_main(void *arg);

/* spawn.c: the parent side, on the event loop's thread; 0, or -1 with
 * job->err and job->err_step set and every fd made for the child closed.
 * Either way the caller ends with trl_spawn_dispose or the exec report. */
int trl_spawn_start(uv_loop_t *loop, struct trl_spawn_job *job);
void trl_spawn_release(struct trl_spawn_job *job);

/* exec_report.c: the report's poll is made before the clone (init), so that
 * nothing can fail once a child runs in our memory; start calls back once
 * the child exec'd (null) or failed before (an errno error), then the job
 * is released. dispose: a job whose child never started. */
int trl_exec_report_init(uv_loop_t *loop, struct trl_spawn_job *job);
void trl_exec_report_start(napi_env env, struct trl_spawn_job *job, napi_value callback);
void trl_spawn_dispose(struct trl_spawn_job *job);

/* clone3.c: the child started in job->cgroup_dir (flags: spawn.c's, with
 * CLONE_VM and CLONE_PIDFD); -1 with errno when the
 * kernel refuses (job->cgroup_refusal set when it lacks the feature). */
int trl_clone_into_cgroup(struct trl_spawn_job *job, unsigned long flags, void *stack, size_t stack_size, int *pidfd);

napi_value trl_spawn(napi_env env, napi_callback_info info);
napi_value trl_watch_exit(napi_env env, napi_callback_info info);
napi_value trl_send_signal(napi_env env, napi_callback_info info);
napi_value trl_harden(napi_env env, napi_callback_info info);
napi_value trl_become_subreaper(napi_env env, napi_callback_info info);
napi_value trl_reap_child(napi_env env, napi_callback_info info);
napi_value trl_any_child_ended(napi_env env, napi_callback_info info);
napi_value trl_trim_memory(napi_env env, napi_callback_info info);
napi_value trl_read_fd(napi_env env, napi_callback_info info);
napi_value trl_read_start(napi_env env, napi_callback_info info);
napi_value trl_read_stop(napi_env env, napi_callback_info info);
napi_value trl_read_into(napi_env env, napi_callback_info info);
napi_value trl_read_close(napi_env env, napi_callback_info info);
napi_value trl_json_run_end(napi_env env, napi_callback_info info);

/* args.c: arguments in, errors out. NULL or -1 leaves a pending exception. */
napi_value trl_throw_errno(napi_env env, int err, const char *step);
napi_value trl_errno_error(napi_env env, int err, const char *step);
char *trl_string_arg(napi_env env, napi_value value);
char **trl_string_array(napi_env env, napi_value array);
int trl_read_rlimits(napi_env env, napi_value array, struct trl_spawn_job *job);
int trl_read_user(napi_env env, napi_value user, struct trl_spawn_job *job);
int trl_read_cgroup(napi_env env, napi_value dir, struct trl_spawn_job *job);

/* pty.c: a terminal for the command instead of pipes on 0..2. */
int trl_read_pty(napi_env env, napi_value pty, struct trl_spawn_job *job);
int trl_pty_open(struct trl_spawn_job *job);
napi_value trl_pty_resize(napi_env env, napi_callback_info info);

#endif
