/*
 * The benchmark's floor: what the kernel needs to run `/bin/sh -c true` with
 * stdout and stderr on pipes, from a small C process with posix_spawn (glibc:
 * clone(CLONE_VM|CLONE_VFORK), no copy of the parent). Driven on stdin by
 * bench/floor.ts, one request per line, one answer per line:
 *   L            one spawn, waited for (exit and EOF on both pipes); prints microseconds
 *   T <ms> <k>   k spawns in flight for <ms>; prints completed spawns per second
 * It is also the daemon's foreign client, so that the daemon's figures carry
 * no client runtime of ours (the figures came from a foreign client):
 *   C <path>     connects a kept connection to the Unix socket; prints its number
 *   K <n> <line> sends one request line on kept connection n, reads one line back;
 *                prints microseconds, or -1 when the answer is not ok:true
 *   O <path> <line>  the same on a fresh connection, closed after (a one-shot client)
 *   P <n> <ms>   pings on kept connection n every <ms> until the next line comes
 *                on stdin; prints every round trip in microseconds on one line
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct job {
  pid_t pid;
  int out, err; /* -1 once at EOF */
  int exited;
};

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void start(struct job *j) {
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) { perror("pipe2"); exit(1); }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[1], 1);
  posix_spawn_file_actions_adddup2(&fa, e[1], 2);
  char *argv[] = {"sh", "-c", "true", NULL};
  int rc = posix_spawn(&j->pid, "/bin/sh", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) { fprintf(stderr, "posix_spawn: %s\n", strerror(rc)); exit(1); }
  close(o[1]);
  close(e[1]);
  j->out = o[0];
  j->err = e[0];
  j->exited = 0;
}

/* Reads what is ready; returns 1 when the job is complete (both EOF, reaped). */
static int step(struct job *j, short out_ev, short err_ev) {
  char buf[512];
  if (out_ev && read(j->out, buf, sizeof buf) <= 0) { close(j->out); j->out = -1; }
  if (err_ev && read(j->err, buf, sizeof buf) <= 0) { close(j->err); j->err = -1; }
  if (j->out < 0 && j->err < 0 && !j->exited) {
    int st;
    while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR) {}
    j->exited = 1;
  }
  return j->exited;
}

/* Runs k jobs in flight until deadline (0: exactly one job); returns jobs completed. */
static long run(int k, double deadline_us) {
  struct job jobs[256];
  struct pollfd fds[512];
  long done = 0;
  int one = deadline_us == 0;
  for (int i = 0; i < k; i++) start(&jobs[i]);
  int live = k;
  while (live > 0) {
    for (int i = 0; i < k; i++) {
      fds[2 * i] = (struct pollfd){.fd = jobs[i].out, .events = POLLIN};
      fds[2 * i + 1] = (struct pollfd){.fd = jobs[i].err, .events = POLLIN};
    }
    if (poll(fds, 2 * k, -1) < 0 && errno != EINTR) { perror("poll"); exit(1); }
    for (int i = 0; i < k; i++) {
      if (jobs[i].exited) continue;
      short a = fds[2 * i].revents, b = fds[2 * i + 1].revents;
      if (!a && !b) continue;
      if (step(&jobs[i], a, b)) {
        done++;
        if (!one && now_us() < deadline_us) start(&jobs[i]);
        else { live--; jobs[i].out = jobs[i].err = -1; }
      }
    }
  }
  return done;
}

static int dial(const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return -1;
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
  return fd;
}

/* Writes `req` (newline included), reads up to the answer's newline: microseconds, or -1. */
static double exchange(int fd, const char *req, size_t len) {
  static char answer[1 << 16];
  double t0 = now_us();
  if (write(fd, req, len) != (ssize_t)len) return -1;
  size_t n = 0;
  int ok = 0;
  for (;;) {
    ssize_t r = read(fd, answer + n, sizeof answer - 1 - n);
    if (r <= 0) return -1;
    n += (size_t)r;
    answer[n] = 0;
    if (!ok && strstr(answer, "\"ok\":true")) ok = 1;
    char *nl = memchr(answer, '\n', n);
    if (nl) break;
    if (n > sizeof answer / 2) { memmove(answer, answer + n - 16, 16); n = 16; } /* a long answer: keep only its end */
  }
  double t = now_us() - t0;
  return ok ? t : -1;
}

/* P: a series of system.ping on fd, one every `every_ms`, until stdin has a line. */
static void ping_series(int fd, int every_ms) {
  static double samples[1 << 17];
  static const char ping[] = "{\"id\":1,\"method\":\"system.ping\"}\n";
  size_t n = 0;
  struct pollfd in = {.fd = 0, .events = POLLIN};
  for (;;) {
    double t0 = now_us();
    double t = exchange(fd, ping, sizeof ping - 1);
    if (n < sizeof samples / sizeof samples[0]) samples[n++] = t;
    int wait = every_ms - (int)((now_us() - t0) / 1000);
    if (poll(&in, 1, wait > 0 ? wait : 0) > 0) break;
  }
  for (size_t i = 0; i < n; i++) printf(i ? " %.1f" : "%.1f", samples[i]);
  printf("\n");
}

int main(void) {
  static char line[1 << 16];
  int kept[16];
  int nkept = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == 'P') {
      int k = -1, every = 0;
      if (sscanf(line + 1, "%d %d", &k, &every) != 2 || k < 0 || k >= nkept || every < 1) { fprintf(stderr, "bad request: %s", line); return 1; }
      ping_series(kept[k], every);
      if (!fgets(line, sizeof line, stdin)) return 0; /* the line that stopped it */
      continue;
    }
    if (line[0] == 'C' || line[0] == 'K' || line[0] == 'O') {
      char *arg = line + 2, *rest = strchr(arg, ' ');
      if (line[0] == 'C') {
        arg[strcspn(arg, "\n")] = 0;
        int fd = nkept < 16 ? dial(arg) : -1;
        if (fd < 0) { fprintf(stderr, "floor: cannot connect to %s\n", arg); return 1; }
        kept[nkept] = fd;
        printf("%d\n", nkept++);
        continue;
      }
      if (!rest) { fprintf(stderr, "bad request: %s", line); return 1; }
      *rest++ = 0;
      size_t len = strlen(rest);
      if (line[0] == 'K') {
        int k = atoi(arg);
        printf("%.1f\n", k >= 0 && k < nkept ? exchange(kept[k], rest, len) : -1);
      } else {
        double t0 = now_us();
        int fd = dial(arg);
        double t = fd < 0 ? -1 : exchange(fd, rest, len);
        if (fd >= 0) close(fd);
        printf("%.1f\n", t < 0 ? -1 : now_us() - t0);
      }
      continue;
    }
    if (line[0] == 'L') {
      double t0 = now_us();
      run(1, 0);
      printf("%.1f\n", now_us() - t0);
    } else if (line[0] == 'T') {
      int ms = 0, k = 0;
      if (sscanf(line + 1, "%d %d", &ms, &k) != 2 || k < 1 || k > 256) { fprintf(stderr, "bad request: %s", line); return 1; }
      double t0 = now_us();
      long done = run(k, t0 + ms * 1e3);
      printf("%.1f\n", done * 1e6 / (now_us() - t0));
    } else {
      fprintf(stderr, "bad request: %s", line);
      return 1;
    }
  }
  return 0;
}
