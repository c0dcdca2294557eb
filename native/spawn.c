/*
 * Starting a command without copying the daemon: clone(CLONE_VM | CLONE_PIDFD)
 * on a small stack of its own, so the daemon holds a handle on exactly this
 * process (no pid-reuse window). With a cgroup leaf, clone3 with
 * CLONE_INTO_CGROUP starts it there (see clone3.c). It runs on the event
 * loop's thread without CLONE_VFORK: the loop goes on while the child gets
 * to exec, and learns of that through the exec report (exec_report.c), as
 * libuv learns of an exec error through a close-on-exec pipe; no worker
 * thread is woken, and no thread waits.
 */
#include "trl_native.h"
#include "raw_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* The child only makes system calls; execve copies argv/envp in the kernel. */
#define CHILD_STACK_BYTES (64 * 1024)
/* Stacks kept for the next commands: an mmap + munmap per command would cost
 * the event loop's thread a TLB shootdown each time. */
#define STACKS_KEPT 32

/* Where the child cannot run beside the daemon's threads (raw_syscall.h), it
 * runs while the loop's thread waits, as posix_spawn's does. */
#if TRL_CONCURRENT_CHILD
#define CHILD_CLONE_FLAGS (CLONE_VM | CLONE_PIDFD)
#else
#define CHILD_CLONE_FLAGS (CLONE_VM | CLONE_VFORK | CLONE_PIDFD)
#endif

static void close_fds(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) {
      close(fds[i]);
      fds[i] = -1;
    }
}

/* Pipes, as a shell pipeline has: /dev/stdin, /dev/stdout and /dev/stderr
 * can be opened (on a socket that is ENXIO), and a write into a pipe costs
 * the command less than one into a socket. The child reads fd 0 and writes
 * 1..3; the daemon closing its end gives the child EOF (or EPIPE). */
static int make_stdio(struct trl_spawn_job *job) {
  for (int i = 0; i < TRL_STDIO_COUNT; i++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    job->parent_fd[i] = i == 0 ? p[1] : p[0];
    job->child_fd[i] = i == 0 ? p[0] : p[1];
  }
  return 0;
}

/* Only the event loop's thread spawns: no lock. A stack comes back once its
 * child is done with it (exec or exit). */
static void *kept_stacks[STACKS_KEPT];
static int n_kept_stacks;

static void *stack_get(void) {
  if (n_kept_stacks > 0) return kept_stacks[--n_kept_stacks];
  void *s = mmap(NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  return s == MAP_FAILED ? NULL : s;
}

static void stack_put(void *s) {
  if (n_kept_stacks < STACKS_KEPT) kept_stacks[n_kept_stacks++] = s;
  else munmap(s, CHILD_STACK_BYTES);
}

int trl_spawn_start(uv_loop_t *loop, struct trl_spawn_job *job) {
  job->pid = -1;
  job->pidfd = -1;
  if (job->pty ? trl_pty_open(job) < 0 : make_stdio(job) < 0) {
    job->err = errno;
    job->err_step = job->pty ? "openpty" : "pipe2";
    goto failed;
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0) {
    job->err = errno;
    job->err_step = "pipe2";
    goto failed;
  }
  job->exec_report = report[0];
  job->exec_report_child = report[1];
  int err = trl_exec_report_init(loop, job);
  if (err != 0) {
    job->err = -err;
    job->err_step = "uv_poll_init";
    goto failed;
  }
  if (!(job->stack = stack_get())) {
    job->err = errno;
    job->err_step = "mmap";
    goto failed;
  }

  /* No handler of the daemon may run in the child: block everything across
   * the clone; the child resets dispositions, then unblocks before exec. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  job->child_errno = 0;
  job->child_step = NULL;
  int pidfd = -1;
  int pid = -1;
  int clone_errno = 0;
  if (job->cgroup_dir) {
    pid = trl_clone_into_cgroup(job, CHILD_CLONE_FLAGS, job->stack, CHILD_STACK_BYTES, &pidfd);
    clone_errno = errno;
    /* Any refusal (no clone3, a leaf gone or not a leaf, the session's
     * pids.max, which a move into the leaf does not check) leaves the entry to
     * the child, as the shell's entry line did; a plain clone still fails
     * where the system is out of processes or memory. */
    if (pid < 0) job->enter_cgroup_in_child = 1;
  }
  if (pid < 0) {
    /* Exit signal 0: the pidfd tells of the exit. It lasts only until the
     * exec (the kernel makes it SIGCHLD again there), so a leader's end is a
     * SIGCHLD as well, which the adoption scan tells apart (adopt.c). A
     * "clone child" is waited for with __WALL. */
    pid = clone(trl_child_main, (char *)job->stack + CHILD_STACK_BYTES, CHILD_CLONE_FLAGS, job, &pidfd);
    clone_errno = errno;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) {
    job->err = clone_errno;
    job->err_step = "clone";
    goto failed;
  }
  /* The child has its copies: from now on its exit or exec alone closes the
   * last write end of the report (and the last child ends of its stdio).
   * Closed through copies: the child may be reading these fields now. */
  int ends[TRL_STDIO_COUNT + 2];
  memcpy(ends, job->child_fd, sizeof job->child_fd);
  ends[TRL_STDIO_COUNT] = job->pty_slave;
  ends[TRL_STDIO_COUNT + 1] = job->exec_report_child;
  close_fds(ends, TRL_STDIO_COUNT + 2);
  job->pid = pid;
  job->pidfd = pidfd;
  return 0;

failed:
  close_fds(job->child_fd, TRL_STDIO_COUNT);
  if (job->pty) close_fds(&job->pty_slave, 1);
  close_fds(job->parent_fd, TRL_STDIO_COUNT);
  close_fds(&job->exec_report_child, 1);
  if (!job->poll_ready) close_fds(&job->exec_report, 1); /* else closed with the job */
  return -1;
}

void trl_spawn_release(struct trl_spawn_job *job) {
  close_fds(&job->exec_report, 1);
  if (job->stack) stack_put(job->stack);
  free(job->file);
  free(job->cwd);
  free(job->cgroup_dir);
  free(job->cgroup_procs);
  if (job->argv)
    for (char **p = job->argv; *p; p++) free(*p);
  free(job->argv);
  if (job->envp)
    for (char **p = job->envp; *p; p++) free(*p);
  free(job->envp);
  free(job);
}
