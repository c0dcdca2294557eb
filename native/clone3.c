/*
 * clone3 with CLONE_INTO_CGROUP (Linux 5.7+): the command's first process
 * is in its cgroup leaf from its first instruction, so nothing it does
 * (not even a fork before a shell line could move it) runs outside, and no
 * shell work per command is spent on getting there. The child runs on its
 * own stack from the syscall's return, which C cannot express: a few lines
 * of assembly call the child's function there (x86-64; elsewhere the kernel
 * counts as refusing and the child enters its leaf itself).
 */
#include "trl_native.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2). */
struct trl_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* Once the kernel has said it cannot do it, no command asks again. */
static int kernel_refuses;

#if defined(__x86_64__)
/* The child resumes after `syscall` with rax 0 on the new stack (16-byte
 * aligned at its top) and every register but rax, rcx, r11 as the parent's:
 * r12/r13 carry the function and its argument; it never returns (it execs
 * or _exits), and SYS_exit stands behind it regardless. */
static long clone3_call(struct trl_clone_args *args, int (*fn)(void *), void *arg) {
  register long rax __asm__("rax") = SYS_clone3;
  register void *rdi __asm__("rdi") = args;
  register long rsi __asm__("rsi") = (long)sizeof *args;
  register int (*r12)(void *) __asm__("r12") = fn;
  register void *r13 __asm__("r13") = arg;
  __asm__ volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov $60, %%eax\n\t"
      "syscall\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "+r"(rax)
      : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  return rax;
}
#endif

/* Kernels without clone3 (ENOSYS), without CLONE_INTO_CGROUP (EINVAL, or
 * E2BIG for the larger clone_args), or refusing the combination. */
static int is_kernel_refusal(int err) {
  return err == ENOSYS || err == EINVAL || err == E2BIG || err == EOPNOTSUPP;
}

int trl_clone_into_cgroup(struct trl_spawn_job *job, unsigned long flags, void *stack, size_t stack_size, int *pidfd) {
  if (__atomic_load_n(&kernel_refuses, __ATOMIC_RELAXED)) {
    errno = EOPNOTSUPP;
    return -1;
  }
#if defined(__x86_64__)
  /* Not following a symlink: the leaf is a directory the daemon made. */
  int dirfd = open(job->cgroup_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0) return -1;
  struct trl_clone_args args = {
      .flags = flags | CLONE_INTO_CGROUP,
      .pidfd = (uint64_t)(uintptr_t)pidfd,
      .exit_signal = 0, /* as spawn.c's clone: until the exec */
      .stack = (uint64_t)(uintptr_t)stack,
      .stack_size = stack_size,
      .cgroup = (uint64_t)dirfd,
  };
  long rc = clone3_call(&args, trl_child_main, job);
  close(dirfd);
  if (rc >= 0) return (int)rc;
  int err = (int)-rc;
  if (is_kernel_refusal(err)) {
    job->cgroup_refusal = err;
    __atomic_store_n(&kernel_refuses, 1, __ATOMIC_RELAXED);
  }
  errno = err;
  return -1;
#else
  (void)flags;
  (void)stack;
  (void)stack_size;
  (void)pidfd;
  job->cgroup_refusal = ENOSYS;
  __atomic_store_n(&kernel_refuses, 1, __ATOMIC_RELAXED);
  errno = ENOSYS;
  return -1;
#endif
}
