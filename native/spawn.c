/*
 * Starting a command without copying the daemon: clone(CLONE_VM|CLONE_VFORK)
 * on a small stack of its own, as posix_spawn does, plus CLONE_PIDFD so the
 * daemon holds a handle on exactly this process (no pid-reuse window). With
 * a cgroup leaf, clone3 with CLONE_INTO_CGROUP starts it there (see
 * clone3.c). It runs on a libuv worker thread: the vfork wait suspends that
 * thread only, never the event loop.
 */
#include "trl_native.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* The child only makes system calls; execve copies argv/envp in the kernel. */
#define CHILD_STACK_BYTES (64 * 1024)

static void close_fds(int *fds, int n) {
  for (int i = 0; i < n; i++)
    if (fds[i] >= 0) {
      close(fds[i]);
      fds[i] = -1;
    }
}

/* Socket pairs, as libuv makes for child_process stdio: the command sees the
 * same kind of stdio as before, and shutdown(SHUT_WR) gives it EOF. */
static int make_stdio(struct trl_spawn_job *job) {
  for (int i = 0; i < TRL_STDIO_COUNT; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    job->parent_fd[i] = sv[0];
    job->child_fd[i] = sv[1];
  }
  return 0;
}

/* One stack per worker thread, kept: the vfork wait means its previous child
 * has exec'd or exited before the thread spawns again, and an mmap + munmap
 * per command would cost the event loop's thread a TLB shootdown each time. */
static void *child_stack(void) {
  static __thread void *stack;
  if (!stack) {
    void *s = mmap(NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) return NULL;
    stack = s;
  }
  return stack;
}

void trl_spawn_execute(struct trl_spawn_job *job) {
  job->pid = -1;
  job->pidfd = -1;
  if (job->pty ? trl_pty_open(job) < 0 : make_stdio(job) < 0) {
    job->err = errno;
    job->err_step = job->pty ? "openpty" : "socketpair";
    goto failed;
  }
  void *stack = child_stack();
  if (!stack) {
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
    pid = trl_clone_into_cgroup(job, stack, CHILD_STACK_BYTES, &pidfd);
    clone_errno = errno;
    /* Any refusal (no clone3, a leaf gone or not a leaf, the session's
     * pids.max, which a move into the leaf does not check) leaves the entry to
     * the child, as the shell's entry line did; a plain clone still fails
     * where the system is out of processes or memory. */
    if (pid < 0) job->enter_cgroup_in_child = 1;
  }
  if (pid < 0) {
    /* Exit signal 0: the pidfd tells of the exit, so a leader's end costs the
     * daemon no signal; SIGCHLD then means an adopted process ended (adopt.c).
     * Such a "clone child" is waited for with __WALL. */
    pid = clone(trl_child_main, (char *)stack + CHILD_STACK_BYTES, CLONE_VM | CLONE_VFORK | CLONE_PIDFD, job, &pidfd);
    clone_errno = errno;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close_fds(job->child_fd, TRL_STDIO_COUNT);
  close_fds(&job->pty_slave, 1);

  if (pid < 0) {
    job->err = clone_errno;
    job->err_step = "clone";
    goto failed;
  }
  if (job->child_step != NULL) {
    /* The child exited 127 before exec: reap it here, report its errno. */
    siginfo_t si;
    while (waitid(P_PIDFD, pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR) {
    }
    close(pidfd);
    job->err = job->child_errno;
    job->err_step = job->child_step;
    goto failed;
  }
  job->pid = pid;
  job->pidfd = pidfd;
  return;

failed:
  close_fds(job->child_fd, TRL_STDIO_COUNT);
  if (job->pty) close_fds(&job->pty_slave, 1);
  close_fds(job->parent_fd, TRL_STDIO_COUNT);
}

void trl_spawn_release(struct trl_spawn_job *job) {
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
