/*
 * System calls for the child between clone and exec, which runs beside the
 * daemon's threads in their memory (CLONE_VM without CLONE_VFORK): it must
 * not write errno, which is the event loop thread's (the child keeps that
 * thread's TLS), nor run glibc's set*id broadcast to the daemon's threads.
 * These return the kernel's result, -errno on failure, and touch nothing.
 * Where no such sequence is written here the child is cloned with
 * CLONE_VFORK (the event loop waits for its exec) and glibc's syscall() is
 * safe: nothing else runs on that thread meanwhile.
 */
#ifndef TRL_RAW_SYSCALL_H
#define TRL_RAW_SYSCALL_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define TRL_CONCURRENT_CHILD 1
static inline long trl_sys(long n, long a, long b, long c, long d, long e) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
#define TRL_CONCURRENT_CHILD 1
static inline long trl_sys(long n, long a, long b, long c, long d, long e) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
#else
#define TRL_CONCURRENT_CHILD 0
static inline long trl_sys(long n, long a, long b, long c, long d, long e) {
  long ret = syscall(n, a, b, c, d, e);
  return ret < 0 ? -errno : ret;
}
#endif

#define trl_sys0(n) trl_sys((n), 0, 0, 0, 0, 0)
#define trl_sys1(n, a) trl_sys((n), (long)(a), 0, 0, 0, 0)
#define trl_sys2(n, a, b) trl_sys((n), (long)(a), (long)(b), 0, 0, 0)
#define trl_sys3(n, a, b, c) trl_sys((n), (long)(a), (long)(b), (long)(c), 0, 0)
#define trl_sys4(n, a, b, c, d) trl_sys((n), (long)(a), (long)(b), (long)(c), (long)(d), 0)
#define trl_sys5(n, a, b, c, d, e) trl_sys((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

#endif
