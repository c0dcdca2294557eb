import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { livePidsWithToken } from '../helpers/proc';

/*
 * Commands that try to outrun a kill. Shell leftovers of four kinds
 * (shellEscapees), and small C programs compiled once per test file
 * (gcc) into a directory the daemon's user can read. Each C program takes a unique
 * token as its first argument: /proc/<pid>/cmdline stays readable even when
 * a process is not dumpable, so the test can find them all.
 */

const SOURCES: Record<string, string> = {
  // Double fork + setsid + not dumpable: no parent link, no pgid/sid link, environment hidden.
  hidden: `#include <sys/prctl.h>
#include <unistd.h>
int main(void) {
  if (fork() != 0) return 0;
  setsid();
  if (fork() != 0) _exit(0);
  prctl(PR_SET_DUMPABLE, 0);
  for (;;) pause();
}`,
  // setsid + not dumpable, but its parent stays: linked by the parent chain.
  linked: `#include <sys/prctl.h>
#include <unistd.h>
int main(void) {
  if (fork() == 0) { setsid(); prctl(PR_SET_DUMPABLE, 0); for (;;) pause(); }
  for (;;) pause();
}`,
  // A hopper: forks, the parent exits, the child setsids, again and again; markers kept.
  // Each generation writes its pid to argv[3] (a heartbeat the test can watch)
  // and ends the line when argv[3].stop exists (cleanup that cannot be outrun).
  hopper: `#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int us = argc > 2 ? atoi(argv[2]) : 5;
  char stop[4096];
  snprintf(stop, sizeof stop, "%s.stop", argc > 3 ? argv[3] : "/nonexistent");
  int fd = argc > 3 ? open(argv[3], O_WRONLY | O_CREAT, 0644) : -1;
  for (;;) {
    if (access(stop, F_OK) == 0) _exit(0);
    pid_t p = fork();
    if (p > 0) _exit(0);
    if (p == 0) {
      setsid();
      char buf[32];
      int n = snprintf(buf, sizeof buf, "%d\\n", (int)getpid());
      if (fd >= 0) pwrite(fd, buf, n, 0);
    }
    if (us > 0) usleep(us);
  }
}`,
};

export type EscapeeKind = keyof typeof SOURCES;

let built: Record<string, string> | null = null;
/** Hopper tokens handed out: their processes and files go when the test process exits. */
const tokens = new Set<string>();

// Whatever a test's outcome: no hopper outlives the run (its stop switch is
// only removed once no process of its token is left), nor any file of one.
process.on('exit', () => {
  for (const token of tokens) {
    killToken(token);
    for (const f of Object.values(hopperFiles(token))) rmSync(f, { force: true });
  }
  if (built) rmSync(dirname(Object.values(built)[0]!), { recursive: true, force: true });
});

/** Paths of the compiled programs (removed when the test process exits). */
export function escapees(): Record<EscapeeKind, string> {
  if (built) return built as Record<EscapeeKind, string>;
  const dir = mkdtempSync('/tmp/trl-escapees-');
  chmodSync(dir, 0o755);
  const out: Record<string, string> = {};
  for (const [name, src] of Object.entries(SOURCES)) {
    writeFileSync(join(dir, `${name}.c`), src);
    execFileSync('gcc', ['-O1', '-o', join(dir, name), join(dir, `${name}.c`)]);
    chmodSync(join(dir, name), 0o755);
    out[name] = join(dir, name);
  }
  return (built = out) as Record<EscapeeKind, string>;
}

/** A hopper's heartbeat file (written by each generation) and its stop switch. */
export function hopperFiles(token: string): { beat: string; stop: string } {
  tokens.add(token);
  const beat = join('/tmp', `trl-hop-${token}`);
  return { beat, stop: `${beat}.stop` };
}

/**
 * True while a hopper line lives: its heartbeat changes within `ms`. A /proc
 * scan alone cannot tell, since each generation lives microseconds.
 */
export async function hopperAlive(token: string, ms = 300): Promise<boolean> {
  const { beat } = hopperFiles(token);
  const read = (): string => {
    try {
      return readFileSync(beat, 'latin1');
    } catch {
      return '';
    }
  };
  const before = read();
  await new Promise((r) => setTimeout(r, ms));
  return read() !== before;
}

/** Ends a hopper line for sure (each generation checks the stop file before forking). */
export function stopHopper(token: string): void {
  writeFileSync(hopperFiles(token).stop, '');
}

/** SIGKILL whatever is left of a token's processes (cleanup after a test, whatever its outcome). */
export function killToken(token: string): void {
  for (let i = 0; i < 20; i++) {
    const pids = livePidsWithToken(token);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/**
 * The four kinds of leftover a command can make, each a `sleep` with a unique
 * duration so the test can find it by its command line:
 *  - group:   a background job in the command's process group;
 *  - setsid:  `setsid sleep` in the background: new session, parent (the command's shell) alive;
 *  - daemon:  setsid + double fork, re-parented, environment kept;
 *  - env-i:   setsid + double fork with `env -i`: re-parented, environment wiped.
 */
export function shellEscapees(n: string): { command: string; kinds: Record<string, string> } {
  const kinds = { group: `1001.${n}`, setsid: `1002.${n}`, daemon: `1003.${n}`, 'env-i': `1004.${n}` };
  const q = '</dev/null >/dev/null 2>&1';
  const command = [
    `sleep ${kinds.group} ${q} &`,
    `setsid sleep ${kinds.setsid} ${q} &`,
    `setsid sh -c 'sleep ${kinds.daemon} ${q} & :' ${q}`,
    `setsid sh -c 'env -i /bin/sleep ${kinds['env-i']} ${q} & :' ${q}`,
  ].join('\n');
  return { command, kinds };
}
