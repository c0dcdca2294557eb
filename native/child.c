/*
 * The child between clone and exec. It shares the daemon's memory (CLONE_VM)
 * while the spawning thread waits (CLONE_VFORK), so it may only make system
 * calls: no allocation, no locks, no stdio. A failure is written into the job
 * (which the parent reads once it resumes) and the child exits 127.
 */
#include "trl_native.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(struct trl_spawn_job *job, const char *step) {
  job->child_errno = errno;
  job->child_step = step;
  _exit(127);
  return 127;
}

/* A limit or the cgroup the command must not run without: it ends the way
 * the shell's prologue line did, exit 125 and a `trl:` line on its stderr,
 * so the daemon reports a finished command, not a failed spawn. */
static int refuse(const char *what) {
  static const char head[] = "trl: cannot ";
  if (write(2, head, sizeof head - 1) < 0 || write(2, what, strlen(what)) < 0 || write(2, "\n", 1) < 0) {
    /* nothing more to say: the exit code still tells */
  }
  _exit(125);
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
  int fd = open(procs, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  int ok = write(fd, "0", 1) == 1;
  close(fd);
  return ok ? 0 : -1;
}

/* Every fd but 0..3: the daemon's sockets, ledger and other commands' pipes
 * must not reach a command. close_range where the kernel has it (5.9+). */
static void close_from(int lowest) {
  if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0) == 0) return;
  struct rlimit rl;
  long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < max) max = (long)rl.rlim_cur;
  for (long fd = lowest; fd < max; fd++) close((int)fd);
}

int trl_child_main(void *arg) {
  struct trl_spawn_job *job = arg;

  /* The daemon's handlers must not run here (they would run on shared
   * memory), and a command starts with default dispositions. The mask, all
   * blocked by the parent for the clone, is cleared only right before exec. */
  struct sigaction dfl = {0};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, NULL);
  }

  /* Session and process-group leader: one signal to -pid reaches the group. */
  if (setsid() < 0) return fail(job, "setsid");

  /* The command's leader adopts every orphan of its tree (kept across exec):
   * a descendant that double-forks and setsids keeps a parent chain to the
   * leader while the command runs, so the tree walk finds it even when its
   * environment is hidden (non-dumpable). */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) return fail(job, "prctl(PR_SET_CHILD_SUBREAPER)");

  /* Move any end that sits on 0..3 out of the way before dup2 onto 0..3. */
  int src[TRL_STDIO_COUNT];
  for (int i = 0; i < TRL_STDIO_COUNT; i++) {
    src[i] = job->pty && i < 3 ? job->pty_slave : job->child_fd[i];
    if (src[i] < TRL_STDIO_COUNT) {
      src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, TRL_STDIO_COUNT);
      if (src[i] < 0) return fail(job, "fcntl");
    }
  }
  for (int i = 0; i < TRL_STDIO_COUNT; i++)
    if (dup2(src[i], i) < 0) return fail(job, "dup2");

  /* A terminal: the new session's controlling terminal is the slave now on
   * fd 0, so ^C, job control and /dev/tty work; its foreground group is ours. */
  if (job->pty && ioctl(0, TIOCSCTTY, 0) < 0) return fail(job, "ioctl(TIOCSCTTY)");

  /* Before the limits: the fallback loop of close_from reads RLIMIT_NOFILE. */
  close_from(TRL_STDIO_COUNT);

  /* Where the kernel could not start the child in its cgroup; as the
   * daemon's user, who owns the leaf. */
  if (job->enter_cgroup_in_child && enter_cgroup(job->cgroup_procs) < 0) return refuse("enter the command's cgroup");

  /* Limits first: once the command's user, a hard limit cannot be raised. */
  for (int i = 0; i < job->n_rlimits; i++)
    if (setrlimit(job->rlimit_resource[i], &job->rlimit_value[i]) < 0) return refuse(rlimit_step(job->rlimit_resource[i]));

  /* The command's own user: supplementary groups, then gid, then uid (all
   * three ids, so no way back), no ambient capabilities, and no_new_privs so
   * no setuid program can raise it again. */
  if (job->switch_user) {
    if (setgroups((size_t)job->n_groups, job->groups) < 0) return fail(job, "setgroups");
    if (setresgid(job->gid, job->gid, job->gid) < 0) return fail(job, "setresgid");
    if (setresuid(job->uid, job->uid, job->uid) < 0) return fail(job, "setresuid");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return fail(job, "prctl(PR_CAP_AMBIENT)");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail(job, "prctl(PR_SET_NO_NEW_PRIVS)");
  }

  /* As the command's user: a directory it may not enter fails here (EACCES). */
  if (chdir(job->cwd) < 0) return fail(job, "chdir");

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  execve(job->file, job->argv, job->envp);
  return fail(job, "execve");
}
