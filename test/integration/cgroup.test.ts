import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, waitFor } from '../helpers/daemon';
import { DAEMON_ROOT, daemonIdentity, type Identity } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';
import { readProcStat } from '../../src/system/proc';
import {
  isSafeCgroupName,
  parseCgroup2Mounts,
  parseKeyValues,
  parseProcCgroup,
  resolveCgroupDir,
} from '../../src/system/cgroup-paths';

/*
 * DelegatedCgroup for real: as root (CI), a cgroup v2 subtree is delegated
 * to the unprivileged test user exactly as systemd's Delegate=yes does it
 * (directory, cgroup.procs, cgroup.subtree_control, cgroup.threads chowned),
 * and a small Node program running as that user — the stand-in for trld —
 * drives DelegatedCgroup over stdin/stdout while the test watches /proc and
 * cgroupfs as root. Not root: only the parsing tests run.
 */

// ---------------------------------------------------------------------------
// Parsing (no privileges needed)

test('parseProcCgroup: the v2 line of /proc/<pid>/cgroup, hybrid and pure layouts', () => {
  const hybrid = '9:name=systemd:/\n4:memory:/x/y\n1:cpu:/\n0::/system.slice/trl.service\n';
  assert.equal(parseProcCgroup(hybrid), '/system.slice/trl.service');
  assert.equal(parseProcCgroup('0::/\n'), '/');
  assert.equal(parseProcCgroup('0::/a/b (deleted)\n'), '/a/b');
  assert.equal(parseProcCgroup('4:memory:/x\n1:cpu:/\n'), null, 'v1 only');
  assert.equal(parseProcCgroup('0::/../../outside\n'), null, 'outside our cgroup namespace');
});

test('parseCgroup2Mounts + resolveCgroupDir: hybrid /sys/fs/cgroup/unified, pure /sys/fs/cgroup, a bind-mounted subtree', () => {
  const mountinfo = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
    '77 23 0:38 /system.slice /mnt/with\\040space rw - cgroup2 cgroup2 rw',
  ].join('\n');
  const mounts = parseCgroup2Mounts(mountinfo);
  assert.deepEqual(mounts, [
    { root: '/', mountPoint: '/sys/fs/cgroup/unified' },
    { root: '/system.slice', mountPoint: '/mnt/with space' },
  ]);
  assert.equal(resolveCgroupDir('/', mounts), '/sys/fs/cgroup/unified');
  assert.equal(resolveCgroupDir('/user.slice/x.scope', mounts), '/sys/fs/cgroup/unified/user.slice/x.scope');
  // the deeper root wins: /system.slice is shown at the bind mount
  assert.equal(resolveCgroupDir('/system.slice/trl.service', mounts), '/mnt/with space/trl.service');
  assert.equal(resolveCgroupDir('/system.slice', mounts), '/mnt/with space');
  const pure = parseCgroup2Mounts('30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw');
  assert.equal(resolveCgroupDir('/system.slice/trl.service', pure), '/sys/fs/cgroup/system.slice/trl.service');
  assert.equal(resolveCgroupDir('/x', parseCgroup2Mounts('77 23 0:38 /other /mnt rw - cgroup2 cgroup2 rw')), null);
  assert.equal(parseKeyValues('populated 1\nfrozen 0\n').get('populated'), 1);
  assert.equal(isSafeCgroupName(randomUUID()), true);
  for (const bad of ['', '.', '..', 'a/b', 'memory.max', '-x', 'x'.repeat(200)]) assert.equal(isSafeCgroupName(bad), false, bad);
});

// ---------------------------------------------------------------------------
// The real thing (root only)

const IS_ROOT = process.getuid?.() === 0;
const WANTED = ['memory', 'pids', 'cpu'];
const MODULE = join(DAEMON_ROOT, 'dist/src/system/cgroup-takeover.js');

/** The stand-in daemon: JSON lines in ({id, op, ...}), JSON lines out ({id, ok, value | error}). */
const DRIVER = String.raw`
const { detectCgroup } = require(process.argv[2]);
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const readline = require('node:readline');
const out = (o) => process.stderr.write(JSON.stringify(o) + '\n');
const log = { info: (o, m) => out({ level: 'info', msg: m, ...o }), warn: (o, m) => out({ level: 'warn', msg: m, ...o }) };
let cg = null;
async function handle(r) {
  switch (r.op) {
    case 'detect': {
      const d = detectCgroup(log);
      cg = d.containment;
      return { ok: cg !== null, reason: d.reason, controllers: cg && cg.controllers, root: cg && cg.root, cgroup: readFileSync('/proc/self/cgroup', 'utf8') };
    }
    case 'call':
      return await cg[r.method](...r.args);
    case 'spawn': {
      // as the executor does: detached (own session and process group), every stdio a pipe
      const c = spawn('/bin/sh', ['-c', r.script], { env: r.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      c.stdin.end();
      c.stdout.resume();
      c.stderr.on('data', (d) => process.stderr.write(d));
      return c.pid;
    }
    case 'setKillMode': // to exercise the freezer fallback of pre-5.14 kernels on this one
      cg.killMode = r.mode;
      return cg.killMode;
    case 'exit':
      process.exit(0);
  }
  throw new Error('unknown op ' + r.op);
}
readline.createInterface({ input: process.stdin }).on('line', async (line) => {
  const r = JSON.parse(line);
  let res;
  try {
    res = { id: r.id, ok: true, value: await handle(r) };
  } catch (e) {
    res = { id: r.id, ok: false, error: String((e && e.message) || e) };
  }
  process.stdout.write(JSON.stringify(res) + '\n');
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
`;

class Driver {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: any) => void>();
  private buf = '';
  stderr = '';
  readonly ready: Promise<void>;

  constructor(readonly child: ChildProcess) {
    let onReady!: () => void;
    this.ready = new Promise((r) => (onReady = r));
    child.stderr!.on('data', (c) => (this.stderr += c));
    child.stdout!.on('data', (c) => {
      this.buf += c;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
        if (msg.ready) onReady();
        else this.waiting.get(msg.id)?.(msg);
      }
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  async send(req: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    const res = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`driver did not answer ${JSON.stringify(req)}; stderr: ${this.stderr}`)), 15_000);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.stdin!.write(JSON.stringify({ id, ...req }) + '\n');
    });
    if (!res.ok) throw new Error(`driver ${req.op} ${String(req.method ?? '')}: ${res.error}`);
    return res.value;
  }

  call(method: string, ...args: unknown[]): Promise<any> {
    return this.send({ op: 'call', method, args });
  }

  detect(): Promise<{ ok: boolean; reason: string; controllers: string[] | null; root: string | null; cgroup: string }> {
    return this.send({ op: 'detect' });
  }

  spawnShell(script: string, env: Record<string, string>): Promise<number> {
    return this.send({ op: 'spawn', script, env });
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Ends the program normally (no answer comes back). */
  exit(): void {
    this.child.stdin!.write(JSON.stringify({ id: 0, op: 'exit' }) + '\n');
  }
}

let id: Identity;
let mountPoint = '';
let testCg = ''; // the delegated subtree (as systemd would hand it to trl.service)
let noCgroupReason = 'no usable cgroup2 filesystem';
let driverFile = '';
const drivers: Driver[] = [];
const extraCgroups: string[] = [];

/** Starts the stand-in daemon as the test user and, as root, places it in `cgroup` (as systemd places the service's process). */
async function startDriver(cgroup: string | null): Promise<Driver> {
  const child = spawn(process.execPath, [driverFile, MODULE], {
    cwd: '/tmp',
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' },
    stdio: ['pipe', 'pipe', 'pipe'],
    uid: id.uid,
    gid: id.gid,
  });
  const d = new Driver(child);
  drivers.push(d);
  await d.ready;
  if (cgroup) writeFileSync(join(cgroup, 'cgroup.procs'), String(d.pid));
  return d;
}

const relPath = (dir: string) => dir.slice(mountPoint.length) || '/';
const cgroupOf = (pid: number): string | null => {
  try {
    return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
  } catch {
    return null;
  }
};
const sessionOf = (pid: number): number => {
  const st = readProcStat(pid);
  if (!st) throw new Error(`process ${pid} is gone`);
  return st.session;
};
const newMarker = () => `TRL_TEST_MARK_${randomUUID().replace(/-/g, '')}`;
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The command of the brief: into the leaf first, then a setsid escapee and a foreground sleep. */
const escapeeScript = (procs: string) => `echo $$ > ${q(procs)} || exit 125; (setsid sh -c "sleep 300" &); sleep 300`;

/** Waits until the marked command runs with its escapee: ≥ 3 live processes, one of them in another session than the shell. */
async function waitForEscapee(mark: string, shellPid: number): Promise<number[]> {
  let pids: number[] = [];
  const ok = await waitFor(() => {
    pids = livePidsWithEnv(`${mark}=1`);
    if (pids.length < 3) return false;
    try {
      const shellSid = sessionOf(shellPid);
      return pids.some((p) => p !== shellPid && sessionOf(p) !== shellSid);
    } catch {
      return false;
    }
  }, 5000);
  assert.ok(ok, `the command and its setsid escapee are running (found ${pids.length} marked processes)`);
  return livePidsWithEnv(`${mark}=1`);
}

/** cgroup.kill on a whole test subtree, wait until empty, rmdir bottom-up. */
async function destroyTestCgroup(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    /* kernel < 5.14: the drivers' own cleanup and the kills below have to do */
  }
  await waitFor(() => /populated 0/.test(readFileSync(join(dir, 'cgroup.events'), 'utf8')), 5000);
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => [...walk(join(d, e.name)), join(d, e.name)]);
  for (const d of [...walk(dir), dir]) {
    try {
      rmdirSync(d);
    } catch {
      /* reported by the assertion in after() */
    }
  }
}

const skipUnlessRoot = (t: { skip: (msg: string) => void }): boolean => {
  if (!IS_ROOT) {
    t.skip('needs root to delegate a cgroup to the test user (CI runs as root)');
    return true;
  }
  if (!testCg) {
    t.skip(noCgroupReason);
    return true;
  }
  return false;
};

before(() => {
  if (!IS_ROOT) return;
  // the test user, made as scripts/test-setup.sh makes it
  const user = process.env.TRL_TEST_USER ?? 'trl-test';
  if (spawnSync('id', ['-u', user]).status !== 0) {
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', user]);
    assert.equal(r.status, 0, `useradd ${user}: ${r.stderr}`);
  }
  id = daemonIdentity();
  const mount = parseCgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8')).find((m) => m.root === '/');
  if (!mount) {
    noCgroupReason = 'no cgroup2 filesystem is mounted';
    return;
  }
  mountPoint = mount.mountPoint;
  const dir = join(mountPoint, `trl-cgtest-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    noCgroupReason = `cannot create a cgroup under ${mountPoint} (${(err as NodeJS.ErrnoException).code})`;
    return;
  }
  if (!existsSync(join(dir, 'cgroup.kill'))) {
    noCgroupReason = 'this kernel has no cgroup.kill';
    rmdirSync(dir);
    return;
  }
  // Delegate=yes: the directory and the three delegation files belong to the service's user
  chownSync(dir, id.uid, id.gid);
  for (const f of ['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(dir, f), id.uid, id.gid);
  testCg = dir;
  const tmp = mkdtempSync('/tmp/trl-cgdriver-');
  chmodSync(tmp, 0o755);
  driverFile = join(tmp, 'driver.js');
  writeFileSync(driverFile, DRIVER, { mode: 0o644 });
});

after(async () => {
  for (const d of drivers) d.kill();
  if (testCg) await destroyTestCgroup(testCg);
  for (const dir of extraCgroups) await destroyTestCgroup(dir);
  if (driverFile) rmSync(join(driverFile, '..'), { recursive: true, force: true });
  if (testCg) assert.equal(existsSync(testCg), false, `test cgroup ${testCg} removed`);
});

let d1: Driver;
let controllers: string[] = [];
const sid = randomUUID();

test('detect() takes over a delegated subtree: the daemon moves into daemon/, sessions/ is created', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t)) return;
  d1 = await startDriver(testCg);
  assert.equal(cgroupOf(d1.pid), relPath(testCg), 'placed in the delegated cgroup, as systemd would');
  const r = await d1.detect();
  assert.equal(r.ok, true, r.reason);
  assert.equal(r.root, testCg);
  assert.match(r.reason, /delegated/);
  t.diagnostic(`detect: ${r.reason}`);
  assert.equal(parseProcCgroup(r.cgroup), `${relPath(testCg)}/daemon`, 'the daemon moved itself into the daemon/ leaf');
  assert.equal(cgroupOf(d1.pid), `${relPath(testCg)}/daemon`);
  assert.equal(readFileSync(join(testCg, 'cgroup.procs'), 'utf8').trim(), '', 'no process left in the delegated cgroup itself');
  assert.ok(existsSync(join(testCg, 'sessions')), 'sessions/ created');
  const available = readFileSync(join(testCg, 'cgroup.controllers'), 'utf8').split(/\s+/);
  controllers = r.controllers!;
  assert.deepEqual(controllers, WANTED.filter((c) => available.includes(c)), 'every available controller of memory, pids, cpu is enabled for sessions');
  t.diagnostic(`controllers in v2 here: ${controllers.length > 0 ? controllers.join(', ') : 'none (kill-only containment)'}`);
});

test('createSession writes the limits its controllers support and reports them', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  const limits = { memoryMax: 256 * 1024 * 1024, memorySwapMax: 0, pidsMax: 64, cpuMax: { quotaUs: 50_000, periodUs: 100_000 } };
  const { applied } = await d1.call('createSession', sid, limits);
  const dir = join(testCg, 'sessions', sid);
  assert.ok(existsSync(dir));
  const expected: string[] = [];
  if (controllers.includes('memory')) {
    expected.push('memory.max');
    if (existsSync(join(dir, 'memory.swap.max'))) expected.push('memory.swap.max');
  }
  if (controllers.includes('pids')) expected.push('pids.max');
  if (controllers.includes('cpu')) expected.push('cpu.max');
  assert.deepEqual(applied, expected);
  if (applied.includes('memory.max')) assert.equal(readFileSync(join(dir, 'memory.max'), 'utf8').trim(), String(limits.memoryMax));
  if (applied.includes('pids.max')) assert.equal(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '64');
  if (applied.includes('cpu.max')) assert.equal(readFileSync(join(dir, 'cpu.max'), 'utf8').trim(), '50000 100000');
  t.diagnostic(`applied: ${applied.length > 0 ? applied.join(', ') : 'none (no controllers in v2 here)'}`);
});

test('a command that enters its leaf is killed whole by killExec, setsid escapee included; stats, populated, release', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  const eid = randomUUID();
  const procs: string = await d1.call('prepareExec', sid, eid);
  const leaf = join(testCg, 'sessions', sid, eid);
  assert.equal(procs, join(leaf, 'cgroup.procs'));
  assert.ok(existsSync(procs));
  assert.equal(await d1.call('execPopulated', sid, eid), false, 'empty before the command starts');

  const mark = newMarker();
  const shell = await d1.spawnShell(escapeeScript(procs), { PATH: '/usr/bin:/bin', [mark]: '1', TRL_EXEC_ID: eid });
  const pids = await waitForEscapee(mark, shell);
  for (const p of pids) assert.equal(cgroupOf(p), relPath(leaf), `pid ${p} is in the command's leaf`);
  assert.equal(await d1.call('execPopulated', sid, eid), true);
  await sleep(300); // some CPU time and memory to account

  assert.equal(await d1.call('killExec', sid, eid), true);
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 3000), `no live process left: ${livePidsWithEnv(`${mark}=1`)}`);
  assert.ok(await waitFor(async () => !(await d1.call('execPopulated', sid, eid)), 3000), 'leaf depopulated');

  const stats = await d1.call('execStats', sid, eid);
  t.diagnostic(`execStats: ${JSON.stringify(stats)}`);
  if (existsSync(join(leaf, 'cpu.stat'))) {
    assert.equal(typeof stats.cpuUsageUs, 'number');
    assert.ok(stats.cpuUsageUs > 0, 'the shell and its children used some CPU');
  } else assert.equal(stats.cpuUsageUs, null);
  if (existsSync(join(leaf, 'memory.peak'))) assert.ok(stats.memoryPeakBytes > 0);
  else assert.equal(stats.memoryPeakBytes, null);
  assert.equal(stats.oomKilled, false);

  assert.equal(await d1.call('releaseExec', sid, eid), true);
  assert.equal(existsSync(leaf), false, 'leaf removed');
  assert.equal(await d1.call('releaseExec', sid, eid), true, 'releasing twice is harmless');
});

test('releaseExec refuses while the leaf is populated (background job outlives its command)', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  const eid = randomUUID();
  const procs: string = await d1.call('prepareExec', sid, eid);
  const mark = newMarker();
  const shell = await d1.spawnShell(`echo $$ > ${q(procs)} || exit 125; sleep 300 > /dev/null 2>&1 < /dev/null &`, { PATH: '/usr/bin:/bin', [mark]: '1' });
  assert.ok(
    await waitFor(() => {
      const live = livePidsWithEnv(`${mark}=1`);
      return live.length === 1 && live[0] !== shell;
    }, 5000),
    'the shell ended, its background job runs',
  );
  assert.equal(await d1.call('execPopulated', sid, eid), true);
  assert.equal(await d1.call('releaseExec', sid, eid), false);
  assert.ok(existsSync(join(testCg, 'sessions', sid, eid)));
  // left for destroySession (next test)
});

test('destroySession kills every process of the session and removes its cgroups', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  const mark = newMarker();
  const eid = randomUUID();
  const procs: string = await d1.call('prepareExec', sid, eid);
  const shell = await d1.spawnShell(escapeeScript(procs), { PATH: '/usr/bin:/bin', [mark]: '1' });
  await waitForEscapee(mark, shell);
  const t0 = Date.now();
  await d1.call('destroySession', sid);
  t.diagnostic(`destroySession took ${Date.now() - t0} ms`);
  assert.deepEqual(livePidsWithEnv(`${mark}=1`), [], 'no process of the session survives');
  assert.equal(existsSync(join(testCg, 'sessions', sid)), false, 'session cgroup and its leaves removed');
  await d1.call('destroySession', sid); // gone already: a no-op
});

test('signalExec reaches every process of the leaf (the TERM step), escapee included', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  const s = randomUUID();
  const eid = randomUUID();
  await d1.call('createSession', s, {});
  const procs: string = await d1.call('prepareExec', s, eid);
  const mark = newMarker();
  const shell = await d1.spawnShell(escapeeScript(procs), { PATH: '/usr/bin:/bin', [mark]: '1' });
  const pids = await waitForEscapee(mark, shell);
  const n: number = await d1.call('signalExec', s, eid, 'SIGTERM');
  assert.ok(n >= pids.length, `signalled ${n} of ${pids.length}`);
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 3000), 'SIGTERM ended them all');
  assert.equal(await d1.call('releaseExec', s, eid), true);
  await d1.call('destroySession', s);
});

test('the freezer fallback (kernels without cgroup.kill) also kills the whole leaf, escapee included', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  if (!existsSync(join(testCg, 'cgroup.freeze'))) {
    t.skip('no cgroup.freeze');
    return;
  }
  const s = randomUUID();
  const eid = randomUUID();
  await d1.call('createSession', s, {});
  const procs: string = await d1.call('prepareExec', s, eid);
  const mark = newMarker();
  const shell = await d1.spawnShell(escapeeScript(procs), { PATH: '/usr/bin:/bin', [mark]: '1' });
  await waitForEscapee(mark, shell);
  assert.equal(await d1.send({ op: 'setKillMode', mode: 'freeze' }), 'freeze');
  try {
    assert.equal(await d1.call('killExec', s, eid), true);
    assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 3000), 'all dead');
    assert.equal(readFileSync(join(testCg, 'sessions', s, eid, 'cgroup.freeze'), 'utf8').trim(), '0', 'thawed again');
    assert.equal(await d1.call('releaseExec', s, eid), true);
  } finally {
    await d1.send({ op: 'setKillMode', mode: 'kill' });
  }
  await d1.call('destroySession', s);
});

test('with the memory controller: a command over memory.max is OOM-killed and execStats says so', { timeout: 60_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  if (!controllers.includes('memory')) {
    t.skip('the memory controller is not available in cgroup v2 here (it sits in v1 on this host)');
    return;
  }
  const s = randomUUID();
  const eid = randomUUID();
  const { applied } = await d1.call('createSession', s, { memoryMax: 32 * 1024 * 1024, memorySwapMax: 0 });
  assert.ok(applied.includes('memory.max'));
  const procs: string = await d1.call('prepareExec', s, eid);
  // tail keeps the last 200 MB in memory before writing anything
  await d1.spawnShell(`echo $$ > ${q(procs)} || exit 125; head -c 300000000 /dev/zero | tail -c 200000000 | wc -c`, { PATH: '/usr/bin:/bin' });
  assert.ok(await waitFor(async () => (await d1.call('execStats', s, eid)).oomKilled, 30_000, 100), 'oom_kill reported');
  const stats = await d1.call('execStats', s, eid);
  t.diagnostic(`execStats after OOM: ${JSON.stringify(stats)}`);
  if (stats.memoryPeakBytes !== null) assert.ok(stats.memoryPeakBytes <= 32 * 1024 * 1024 + 1024 * 1024);
  await d1.call('destroySession', s);
});

test('restart: a second detect() kills and removes a leftover session cgroup with a live process', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t) || !d1) return;
  const s = randomUUID();
  const eid = randomUUID();
  await d1.call('createSession', s, { pidsMax: 100 });
  const procs: string = await d1.call('prepareExec', s, eid);
  const mark = newMarker();
  const shell = await d1.spawnShell(escapeeScript(procs), { PATH: '/usr/bin:/bin', [mark]: '1' });
  await waitForEscapee(mark, shell);
  // the daemon crashes: its command keeps running, re-parented, in the session's cgroup
  d1.kill();
  await waitFor(() => cgroupOf(d1.pid) === null, 3000);
  await sleep(100);
  assert.ok(livePidsWithEnv(`${mark}=1`).length >= 2, 'the orphaned command survives the crash');

  const d2 = await startDriver(testCg);
  const t0 = Date.now();
  const r = await d2.detect();
  t.diagnostic(`restart detect took ${Date.now() - t0} ms: ${r.reason}`);
  assert.equal(r.ok, true, r.reason);
  assert.match(r.reason, /removed 1 leftover session/);
  assert.deepEqual(livePidsWithEnv(`${mark}=1`), [], 'the leftover command and its escapee are dead');
  assert.equal(existsSync(join(testCg, 'sessions', s)), false, 'leftover session cgroup removed');
  assert.ok(existsSync(join(testCg, 'sessions')));
  assert.equal(cgroupOf(d2.pid), `${relPath(testCg)}/daemon`);
  assert.match(d2.stderr, /removed a leftover session cgroup/);
  // the new daemon works normally
  const s2 = randomUUID();
  await d2.call('createSession', s2, {});
  const p2: string = await d2.call('prepareExec', s2, randomUUID());
  assert.ok(existsSync(p2));
  await d2.call('destroySession', s2);
  assert.equal(existsSync(join(testCg, 'sessions', s2)), false);
  // detect() again in the same process (or under systemd's DelegateSubgroup=daemon): it finds the base above daemon/
  const again = await d2.detect();
  assert.equal(again.ok, true, again.reason);
  assert.equal(again.root, testCg);
  assert.equal(cgroupOf(d2.pid), `${relPath(testCg)}/daemon`);
  assert.equal(existsSync(join(testCg, 'daemon', 'daemon')), false, 'no nested daemon/daemon');
  d2.exit();
});

test('detect() returns null with a clear reason when the cgroup is not delegated to the user', { timeout: 30_000 }, async (t) => {
  if (skipUnlessRoot(t)) return;
  // a cgroup that root made and did not chown: what a service without Delegate=yes gets
  const plain = join(mountPoint, `trl-cgtest-plain-${process.pid}-${randomUUID().slice(0, 8)}`);
  mkdirSync(plain);
  extraCgroups.push(plain);
  const d = await startDriver(plain);
  const r = await d.detect();
  t.diagnostic(`not delegated: ${r.reason}`);
  assert.equal(r.ok, false);
  assert.match(r.reason, /not delegated/);
  assert.match(r.reason, /cgroup\.procs|not writable/);
  assert.match(r.reason, /Delegate=yes/);
  assert.equal(cgroupOf(d.pid), relPath(plain), 'nothing moved');
  assert.deepEqual(readdirSync(plain, { withFileTypes: true }).filter((e) => e.isDirectory()), [], 'nothing created');

  // and wherever the test runner itself sits (the root cgroup on these hosts): null too, never a throw
  const d3 = await startDriver(null);
  const r3 = await d3.detect();
  t.diagnostic(`runner's cgroup ${cgroupOf(d3.pid)}: ${r3.reason}`);
  assert.equal(r3.ok, false);
  assert.ok(r3.reason.length > 20);
  d3.exit();
  d.exit();
});
