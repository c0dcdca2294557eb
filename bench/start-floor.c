/*
 * The cold start's floor: what the kernel and systemd-socket-activate need to
 * start a program for the first connection on a passed socket and answer one
 * line. Accepts on fd 3 (LISTEN_FDS=1), reads up to the first newline,
 * answers {"id":"s","ok":true} and exits. Built and run by bench/start.ts.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  static const char answer[] = "{\"id\":\"s\",\"ok\":true}\n";
  char buf[4096];
  size_t got = 0;
  int c = accept(3, NULL, NULL);
  if (c < 0) return 1;
  while (got < sizeof buf) {
    ssize_t n = read(c, buf + got, sizeof buf - got);
    if (n <= 0) return 1;
    if (memchr(buf + got, '\n', (size_t)n)) break;
    got += (size_t)n;
  }
  if (write(c, answer, sizeof answer - 1) != (ssize_t)(sizeof answer - 1)) return 1;
  close(c);
  return 0;
}
