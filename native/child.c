/*
 * The child between clone and exec. It shares the daemon's memory (CLONE_VM)
 * and runs beside the daemon's threads (raw_syscall.h), so it makes raw
 * system calls only: no allocation, no locks, no stdio, no errno. A failure
 * is written into the job (which the parent reads once the child's end of
 * the exec report has closed: at exec, or at its exit) and the child exits
 * 127.
 */
#include "trl_native.h"
#include "raw_syscall.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* The first fd that is neither stdio, the state pipe nor the exec report. */
#define FIRST_FREE_FD (TRL_EXEC_REPORT_FD + 1)

static void child_exit(int code) {
  for (;;) trl_sys1(SYS_exit_group, code);
}

static int fail(struct trl_spawn_job *job, const char *step, long rc) {
  job->child_errno = (int)-rc;
  job->child_step = step;
  child_exit(127);
  return 127;
}

/* A limit or the cgroup the command must not run without: it ends the way
 * the shell's prologue line did, exit 125 and a `trl:` line on its stderr,
 * so the daemon reports a finished command, not a failed spawn. */
static int refuse(const char *what) {
  static const char head[] = "trl: cannot ";
  /* Nothing more to say when a write fails: the exit code still tells. */
  trl_sys3(SYS_write, 2, head, sizeof head - 1);
  trl_sys3(SYS_write, 2, what, strlen(what));
  trl_sys3(SYS_write, 2, "\n", 1);
  child_exit(125);
  return 125;
}

static const char *rlimit_step(int resource) {
  switch (resource) {
    case RLIMIT_CPU: return "set RLIMIT_CPU";
    case RLIMIT_NOFILE: return "set RLIMIT_NOFILE";
    case RLIMIT_CORE: return "set RLIMIT_CORE";
    case RLIMIT_AS: return "set RLIMIT_AS";
    default: return "set a resource limit";
  }
}

/* Writing 0 to cgroup.procs moves the writer itself. */
static int enter_cgroup(const char *procs) {
  long fd = trl_sys4(SYS_openat, AT_FDCWD, procs, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  long written = trl_sys3(SYS_write, fd, "0", 1);
  trl_sys1(SYS_close, fd);
  return written == 1 ? 0 : -1;
}

/* Every fd but 0..3 and the exec report: the daemon's sockets, ledger and
 * other commands' pipes must not reach a command. close_range where the
 * kernel has it (5.9+); the exec report closes itself at exec. */
static void close_from(int lowest) {
  if (trl_sys3(SYS_close_range, lowest, ~0U, 0) == 0) return;
  struct rlimit rl;
  long max = 65536;
  if (trl_sys4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max)
    max = (long)rl.rlim_cur;
  for (long fd = lowest; fd < max; fd++) trl_sys1(SYS_close, fd);
}

/* The kernel's struct sigaction, all zero: SIG_DFL, no flags, empty mask. */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  unsigned long mask;
};

int trl_child_main(void *arg) {
  struct trl_spawn_job *job = arg;
  long rc;

  /* The daemon's handlers must not run here (they would run on shared
   * memory), and a command starts with default dispositions. The mask, all
   * blocked by the parent for the clone, is cleared only right before exec. */
  static const struct kernel_sigaction dfl = {0};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    trl_sys4(SYS_rt_sigaction, sig, &dfl, NULL, 8);
  }

  /* Session and process-group leader: one signal to -pid reaches the group. */
  if ((rc = trl_sys0(SYS_setsid)) < 0) return fail(job, "setsid", rc);

  /* The command's leader adopts every orphan of its tree (kept across exec):
   * a descendant that double-forks and setsids keeps a parent chain to the
   * leader while the command runs, so the tree walk finds it even when its
   * environment is hidden (non-dumpable). */
  if ((rc = trl_sys5(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) < 0) return fail(job, "prctl(PR_SET_CHILD_SUBREAPER)", rc);

  /* Move any end that sits on 0..4 out of the way before putting the ends
   * on 0..3 and the exec report on 4. */
  int src[TRL_STDIO_COUNT + 1];
  for (int i = 0; i <= TRL_STDIO_COUNT; i++) {
    src[i] = i == TRL_STDIO_COUNT ? job->exec_report_child : job->pty && i < 3 ? job->pty_slave : job->child_fd[i];
    if (src[i] < FIRST_FREE_FD) {
      if ((rc = trl_sys3(SYS_fcntl, src[i], F_DUPFD_CLOEXEC, FIRST_FREE_FD)) < 0) return fail(job, "fcntl", rc);
      src[i] = (int)rc;
    }
  }
  for (int i = 0; i <= TRL_STDIO_COUNT; i++)
    if ((rc = trl_sys3(SYS_dup3, src[i], i, i == TRL_EXEC_REPORT_FD ? O_CLOEXEC : 0)) < 0) return fail(job, "dup2", rc);

  /* A terminal: the new session's controlling terminal is the slave now on
   * fd 0, so ^C, job control and /dev/tty work; its foreground group is ours. */
  if (job->pty && (rc = trl_sys3(SYS_ioctl, 0, TIOCSCTTY, 0)) < 0) return fail(job, "ioctl(TIOCSCTTY)", rc);

  /* Before the limits: the fallback loop of close_from reads RLIMIT_NOFILE. */
  close_from(FIRST_FREE_FD);

  /* Where the kernel could not start the child in its cgroup; as the
   * daemon's user, who owns the leaf. */
  if (job->enter_cgroup_in_child && enter_cgroup(job->cgroup_procs) < 0) return refuse("enter the command's cgroup");

  /* Limits first: once the command's user, a hard limit cannot be raised. */
  for (int i = 0; i < job->n_rlimits; i++)
    if (trl_sys4(SYS_prlimit64, 0, job->rlimit_resource[i], &job->rlimit_value[i], NULL) < 0)
      return refuse(rlimit_step(job->rlimit_resource[i]));

  /* The command's own user: supplementary groups, then gid, then uid (all
   * three ids, so no way back), no ambient capabilities, and no_new_privs so
   * no setuid program can raise it again. */
  if (job->switch_user) {
    if ((rc = trl_sys2(SYS_setgroups, job->n_groups, job->groups)) < 0) return fail(job, "setgroups", rc);
    if ((rc = trl_sys3(SYS_setresgid, job->gid, job->gid, job->gid)) < 0) return fail(job, "setresgid", rc);
    if ((rc = trl_sys3(SYS_setresuid, job->uid, job->uid, job->uid)) < 0) return fail(job, "setresuid", rc);
    if ((rc = trl_sys5(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)) < 0 && rc != -EINVAL)
      return fail(job, "prctl(PR_CAP_AMBIENT)", rc);
    if ((rc = trl_sys5(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0) return fail(job, "prctl(PR_SET_NO_NEW_PRIVS)", rc);
  }

  /* As the command's user: a directory it may not enter fails here (EACCES). */
  if ((rc = trl_sys1(SYS_chdir, job->cwd)) < 0) return fail(job, "chdir", rc);

  static const unsigned long none = 0;
  trl_sys4(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);

  rc = trl_sys3(SYS_execve, job->file, job->argv, job->envp);
  return fail(job, "execve", rc);
}
