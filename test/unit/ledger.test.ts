import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrphanLedger, WRITE_DELAY_MS } from '../../src/system/ledger';
import { readProcStat, readStartTime } from '../../src/system/proc';

const quiet = { warn() {}, info() {} };
/** Long enough for the ledger's coalesced write to have happened. */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, WRITE_DELAY_MS * 3));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'trl-ledger-'));
}

/** A shell in its own process group, as the executor starts commands. */
function spawnGroup(script: string): ChildProcess {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const alive = (pid: number): boolean => readProcStat(pid) !== null;

/** A ledger file as a crashed daemon (a dead owner) would have left it. */
function writeLeftover(dir: string, entries: object[], opts: { bootId?: string; owner?: { pid: number; startTime: string } } = {}): void {
  const owner = opts.owner ?? { pid: 4_000_001, startTime: '1' };
  writeFileSync(join(dir, 'orphans.json'), JSON.stringify({ v: 1, bootId: opts.bootId ?? bootId, owner, entries }), { mode: 0o600 });
}

function readLedger(dir: string): { entries: Record<string, unknown>[]; sessions: string[] } {
  return JSON.parse(readFileSync(join(dir, 'orphans.json'), 'utf8')) as { entries: Record<string, unknown>[]; sessions: string[] };
}

test('add is written once after the write delay, atomically, mode 0600, ids only', async () => {
  const dir = tempDir();
  try {
    const ledger = OrphanLedger.open(dir, quiet);
    const leaky = { pgid: 4242, pid: 4242, startTime: '77', sessionId: 's1', command: 'echo SECRET', env: { TOKEN: 'SECRET' } };
    ledger.add(leaky);
    for (let i = 0; i < 500; i++) ledger.add({ pgid: 10_000 + i, pid: 10_000 + i, startTime: String(i + 1), sessionId: 's2' });
    assert.equal(existsSync(join(dir, 'orphans.json')), false, 'no synchronous write on the hot path');
    await tick();
    const text = readFileSync(join(dir, 'orphans.json'), 'utf8');
    assert.equal(statSync(join(dir, 'orphans.json')).mode & 0o777, 0o600);
    assert.ok(!text.includes('SECRET'), 'no command text or env values');
    const first = readLedger(dir).entries[0];
    assert.deepEqual(first, { pgid: 4242, pid: 4242, startTime: '77', sessionId: 's1' });
    assert.equal(readLedger(dir).entries.length, 501);
    ledger.remove(4242);
    await tick();
    assert.equal(readLedger(dir).entries.some((e) => e.pgid === 4242), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write due for another change leaves out a group younger than the write delay, then writes it when it is due', async () => {
  const dir = tempDir();
  try {
    const ledger = OrphanLedger.open(dir, quiet);
    ledger.addSession('s-young');
    assert.deepEqual(readLedger(dir).sessions, ['s-young'], 'a session is on disk before addSession returns, before any command of it starts');
    await sleep(WRITE_DELAY_MS / 2);
    const addedAt = performance.now();
    ledger.add({ pgid: 4343, pid: 4343, startTime: '5', sessionId: 's-young' });
    ledger.addSession('s-other');
    const early = readLedger(dir);
    assert.deepEqual(early.sessions, ['s-young', 's-other'], 'each session is written at its own time');
    // Only meaningful while the group is still young (a loaded machine may be late).
    if (performance.now() - addedAt < WRITE_DELAY_MS - 2) assert.equal(early.entries.length, 0, 'a young group waits for its own delay');
    await tick();
    assert.deepEqual(readLedger(dir).entries.map((e) => e.pgid), [4343], 'written once it is due');
    ledger.remove(4343);
    await tick();
    assert.equal(readLedger(dir).entries.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep kills a recorded group that is still alive, then clears the ledger', async () => {
  const dir = tempDir();
  const child = spawnGroup('sleep 60');
  try {
    const pid = child.pid!;
    await waitFor(() => readStartTime(pid) !== null);
    writeLeftover(dir, [{ pgid: pid, pid, startTime: readStartTime(pid), sessionId: 's-old' }]);
    const ledger = OrphanLedger.open(dir, quiet);
    const result = await ledger.sweep(2000);
    assert.equal(result.recorded, 1);
    assert.equal(result.killed, 1);
    await waitFor(() => !alive(pid));
    assert.deepEqual(readLedger(dir).entries, []);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a group that ignores SIGTERM gets SIGKILL after the grace', async () => {
  const dir = tempDir();
  const child = spawnGroup('trap "" TERM; sleep 60 & wait; wait');
  try {
    const pid = child.pid!;
    await waitFor(() => readStartTime(pid) !== null);
    await sleep(50);
    writeLeftover(dir, [{ pgid: pid, pid, startTime: readStartTime(pid), sessionId: 's-old' }]);
    const started = Date.now();
    const result = await OrphanLedger.open(dir, quiet).sweep(300);
    assert.equal(result.killed, 1);
    assert.ok(Date.now() - started >= 250, 'waited for the grace');
    await waitFor(() => !alive(pid));
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('members left in the group after the leader exited are killed', async () => {
  const dir = tempDir();
  const pidFile = join(dir, 'member.pid');
  const leader = spawn('/bin/sh', ['-c', `sleep 60 & echo $! > ${pidFile}; sleep 0.3`], { detached: true, stdio: 'ignore' });
  try {
    const pgid = leader.pid!;
    await waitFor(() => readStartTime(pgid) !== null);
    const leaderStart = readStartTime(pgid)!;
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
    const member = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !alive(pgid));
    assert.ok(alive(member), 'the member outlived its leader');
    writeLeftover(dir, [{ pgid, pid: pgid, startTime: leaderStart, sessionId: 's-old' }]);
    const result = await OrphanLedger.open(dir, quiet).sweep(1000);
    assert.equal(result.killed, 1);
    await waitFor(() => !alive(member));
  } finally {
    try { process.kill(-leader.pid!, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reused pid (same pid, other start time) is never touched', async () => {
  const dir = tempDir();
  const child = spawnGroup('sleep 60');
  try {
    const pid = child.pid!;
    await waitFor(() => readStartTime(pid) !== null);
    const other = String(BigInt(readStartTime(pid)!) - 1n);
    writeLeftover(dir, [{ pgid: pid, pid, startTime: other, sessionId: 's-old' }]);
    const result = await OrphanLedger.open(dir, quiet).sweep(100);
    assert.deepEqual([result.recorded, result.killed], [1, 0]);
    await sleep(100);
    assert.ok(alive(pid), 'still running');
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a ledger from another boot, a corrupt ledger and a live owner are all left alone', async () => {
  const child = spawnGroup('sleep 60');
  const pid = child.pid!;
  await waitFor(() => readStartTime(pid) !== null);
  const entry = { pgid: pid, pid, startTime: readStartTime(pid), sessionId: 's-old' };
  const dirs = [tempDir(), tempDir(), tempDir()];
  try {
    writeLeftover(dirs[0]!, [entry], { bootId: 'another-boot' });
    writeFileSync(join(dirs[1]!, 'orphans.json'), '{"entries": [not json');
    // The owner is a live process other than us: a second daemon on the same directory.
    writeLeftover(dirs[2]!, [entry], { owner: { pid, startTime: readStartTime(pid)! } });
    for (const dir of dirs) {
      const result = await OrphanLedger.open(dir, quiet).sweep(100);
      assert.equal(result.killed, 0, dir);
    }
    assert.ok(alive(pid));
    assert.equal(readLedger(dirs[2]!).entries.length, 1, "a live daemon's ledger is not rewritten");
  } finally {
    child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});

test('a group added and removed within the write delay never touches the file (short commands cost no disk I/O)', async () => {
  const dir = tempDir();
  try {
    const ledger = OrphanLedger.open(dir, quiet);
    ledger.add({ pgid: 31337, pid: 31337, startTime: '9', sessionId: 's' });
    ledger.remove(31337);
    await tick();
    assert.equal(existsSync(join(dir, 'orphans.json')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('entries recorded before the sweep survive until it ran, so a crash in between loses none', async () => {
  const dir = tempDir();
  try {
    writeLeftover(dir, [{ pgid: 4_000_002, pid: 4_000_002, startTime: '5', sessionId: 's-old' }]);
    const ledger = OrphanLedger.open(dir, quiet);
    ledger.add({ pgid: 4_000_003, pid: 4_000_003, startTime: '6', sessionId: 's-new' });
    await tick();
    assert.deepEqual(readLedger(dir).entries.map((e) => e.sessionId), ['s-old', 's-new']);
    const result = await ledger.sweep(10);
    assert.deepEqual([result.recorded, result.killed], [1, 0]);
    assert.deepEqual(readLedger(dir).entries.map((e) => e.sessionId), ['s-new']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
