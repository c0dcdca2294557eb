import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import * as inputWait from '../../src/exec/input-wait';
import { readProcStat } from '../../src/system/proc';

/*
 * The waiting_input probe looks only at the exec's own processes: with a
 * cgroup, its members; without, its group, from one shared /proc pass that
 * is made at most once a second however many execs are probed.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A command in its own group whose child blocks reading the stdin pipe. */
function reader(): ChildProcess {
  return spawn('/bin/sh', ['-c', 'cat >/dev/null; :'], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
}

test('many probes, many checks: at most one /proc pass per second, and each finds its own reader', async () => {
  const children = Array.from({ length: 10 }, reader);
  try {
    await sleep(300);
    const probes = children.map((c) => new inputWait.InputProbe(c.pid!, inputWait.stdinLink(c.pid!)!));
    const before = inputWait.indexScans;
    const found: (number | null)[] = [];
    for (let tick = 0; tick < 20; tick++) for (const p of probes) found.push(p.check());
    assert.ok(inputWait.indexScans - before <= 1, `scans for 200 checks: ${inputWait.indexScans - before}`);
    // Each probe names a process of its own group (the cat), never another exec's.
    for (const [i, c] of children.entries()) {
      const pid = probes[i]!.check();
      assert.notEqual(pid, null, `probe ${i} found its reader`);
      const pgrp = readProcStat(pid!)?.pgrp;
      assert.equal(pgrp, c.pid);
    }
  } finally {
    for (const c of children) process.kill(-c.pid!, 'SIGKILL');
  }
});

test('with a cgroup, the probe reads only the given members and never scans /proc', async () => {
  const c = reader();
  try {
    await sleep(300);
    const before = inputWait.indexScans;
    const members = (): number[] => {
      // The members a cgroup would list: the shell and its child.
      const out: number[] = [c.pid!];
      for (const name of readdirSync(`/proc/${c.pid}/task`)) {
        try {
          out.push(...String(readFileSync(`/proc/${c.pid}/task/${name}/children`, 'latin1')).trim().split(' ').filter(Boolean).map(Number));
        } catch {
          /* no children file on this kernel */
        }
      }
      return out;
    };
    const probe = new inputWait.InputProbe(c.pid!, inputWait.stdinLink(c.pid!)!, members);
    probe.check();
    await sleep(1100);
    probe.check();
    assert.equal(inputWait.indexScans, before);
  } finally {
    process.kill(-c.pid!, 'SIGKILL');
  }
});
