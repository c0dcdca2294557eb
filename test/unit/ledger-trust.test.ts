import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrphanLedger, WRITE_DELAY_MS } from '../../src/system/ledger';
import { readProcStat, readStartTime } from '../../src/system/proc';
import { ensurePrivateDir, UnsafePathError } from '../../src/system/runtime-dir';

/*
 * Every path the daemon trusts is checked, and every field read back from
 * the ledger is validated: another local user (here uid 65534) cannot plant
 * a ledger, a symlink or a directory, and one bad entry never stops start-up.
 */

const OTHER = 65534;
const uid = process.getuid!();
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number): boolean => readProcStat(pid) !== null;

function collectingLog() {
  const records: { obj: object; msg: string }[] = [];
  const push = (obj: object, msg: string) => void records.push({ obj, msg });
  return { log: { warn: push, info: push }, records, text: () => JSON.stringify(records) };
}

function tempDir(): string {
  return mkdtempSync('/tmp/trl-ledger-trust-');
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/** A detached `sleep` whose environment carries the marker, as a setsid'd daemon of a command would. */
async function markedSleeper(env: Record<string, string>): Promise<number> {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH!, ...env } });
  child.unref();
  const pid = child.pid!;
  await waitFor(() => readStartTime(pid) !== null && readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('sleep'));
  return pid;
}

test('a malformed ledger entry is skipped and logged by its keys, the rest is swept, start-up goes on', async () => {
  const dir = tempDir();
  const pid = await markedSleeper({});
  try {
    const good = { pgid: pid, pid, startTime: readStartTime(pid), sessionId: 's-good' };
    const bad = [
      { pgid: 4_000_010, pid: 4_000_010, startTime: 'x-not-a-number-SECRETVALUE', sessionId: 's' },
      { pgid: -1, pid: 1, startTime: '5', sessionId: 's' },
      { pgid: 4_000_011, pid: 4_000_011, startTime: 5, sessionId: 's' },
      'SECRETSTRING',
      null,
      { pgid: 4_000_012, pid: 4_000_012, startTime: '7', sessionId: '../../etc', extra: 'SECRETEXTRA' },
    ];
    writeFileSync(join(dir, 'orphans.json'), JSON.stringify({ v: 1, bootId, owner: { pid: 4_000_001, startTime: '1' }, entries: [...bad, good], sessions: [42, 's-fine'] }), { mode: 0o600 });
    const { log, records, text } = collectingLog();
    const result = await OrphanLedger.open(dir, log).sweep(1000);
    assert.equal(result.recorded, 1, 'only the valid entry counts');
    assert.equal(result.killed, 1);
    assert.ok(await waitFor(() => !alive(pid)), 'the valid entry was swept');
    assert.ok(records.some((r) => r.msg.includes('malformed')), text());
    assert.ok(!text().includes('SECRET'), `values never logged: ${text()}`);
  } finally {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ledger that is not JSON, or not an object, is ignored without stopping start-up', async () => {
  for (const content of ['{"entries": [not json', '[1,2,3]', '"x"', 'null', '{"v":1,"bootId":7,"owner":"x","entries":{"a":1}}']) {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'orphans.json'), content, { mode: 0o600 });
      const result = await OrphanLedger.open(dir, collectingLog().log).sweep(10);
      assert.equal(result.killed, 0, content);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a runtime directory made by another user is refused, naming the path and what to do, and nothing is swept', async () => {
  const pid = await markedSleeper({});
  const parent = tempDir();
  const dir = join(parent, 'trl-hijacked');
  try {
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'orphans.json'), JSON.stringify({ v: 1, bootId, owner: { pid: 4_000_001, startTime: '1' }, entries: [{ pgid: pid, pid, startTime: readStartTime(pid), sessionId: 's' }] }), { mode: 0o600 });
    chownSync(join(dir, 'orphans.json'), OTHER, OTHER);
    chownSync(dir, OTHER, OTHER);
    assert.throws(() => OrphanLedger.open(dir, collectingLog().log), (err: Error) => {
      assert.ok(err instanceof UnsafePathError);
      assert.match(err.message, new RegExp(`${dir} is owned by uid ${OTHER}`));
      assert.match(err.message, /TRL_RUNTIME_DIR/);
      return true;
    });
    await sleep(50);
    assert.ok(alive(pid), 'the planted ledger killed nothing');
  } finally {
    process.kill(pid, 'SIGKILL');
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a group- or world-writable runtime directory, a symlinked one, and one under a directory of another user are refused', () => {
  const parent = tempDir();
  try {
    const open = join(parent, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.throws(() => ensurePrivateDir(open, uid), /writable by group or others \(mode 777\)/);
    const real = join(parent, 'real');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(parent, 'link'));
    assert.throws(() => ensurePrivateDir(join(parent, 'link'), uid), /is a symbolic link/);
    const foreign = join(parent, 'foreign');
    mkdirSync(foreign, { mode: 0o755 });
    chownSync(foreign, OTHER, OTHER);
    assert.throws(() => ensurePrivateDir(join(foreign, 'run'), uid), /above the runtime directory, is owned by uid 65534/);
    assert.equal(existsSync(join(foreign, 'run')), false, 'nothing created under it');
    // The fallback itself: created 0700 when absent.
    const fresh = join(parent, 'fresh', 'run');
    ensurePrivateDir(fresh, uid);
    assert.equal(lstatSync(fresh).mode & 0o777, 0o700);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a planted ledger symlink is refused and its target never truncated; a planted file of another user is refused', async () => {
  const dir = tempDir();
  const victim = join(tempDir(), 'precious');
  try {
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(dir, 'orphans.json'));
    assert.throws(() => OrphanLedger.open(dir, collectingLog().log), /orphans\.json is a symbolic link/);
    assert.equal(readFileSync(victim, 'utf8'), 'keep me');
    rmSync(join(dir, 'orphans.json'));
    writeFileSync(join(dir, 'orphans.json'), '{}', { mode: 0o600 });
    chownSync(join(dir, 'orphans.json'), OTHER, OTHER);
    assert.throws(() => OrphanLedger.open(dir, collectingLog().log), /owned by uid 65534.*planted/);
    rmSync(join(dir, 'orphans.json'));
    writeFileSync(join(dir, 'orphans.json'), '{}');
    chmodSync(join(dir, 'orphans.json'), 0o666);
    assert.throws(() => OrphanLedger.open(dir, collectingLog().log), /writable by group or others/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(victim, '..'), { recursive: true, force: true });
  }
});

test("a session stays in the ledger until destroyed, so the sweep kills what a finished command daemonized", async () => {
  const dir = tempDir();
  const sid = `s-${process.pid}-${Date.now()}`;
  const pid = await markedSleeper({ TRL_SESSION_ID: sid });
  try {
    const first = OrphanLedger.open(dir, collectingLog().log);
    await first.sweep(10);
    first.addSession(sid);
    // The command's own group came and went: only the session remains recorded.
    first.add({ pgid: 4_000_020, pid: 4_000_020, startTime: '9', sessionId: sid });
    await sleep(WRITE_DELAY_MS * 3);
    first.remove(4_000_020);
    await sleep(WRITE_DELAY_MS * 3);
    const file = JSON.parse(readFileSync(join(dir, 'orphans.json'), 'utf8')) as { entries: unknown[]; sessions: string[] };
    assert.deepEqual([file.entries.length, file.sessions], [0, [sid]]);
    // A crash now; the next start sweeps by the session's marker. (Owner: a dead daemon.)
    writeFileSync(join(dir, 'orphans.json'), JSON.stringify({ ...file, owner: { pid: 4_000_001, startTime: '1' } }), { mode: 0o600 });
    const result = await OrphanLedger.open(dir, collectingLog().log).sweep(500);
    assert.equal(result.strays, 1);
    assert.ok(await waitFor(() => !alive(pid)), 'the daemonized process is gone');
  } finally {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
});
