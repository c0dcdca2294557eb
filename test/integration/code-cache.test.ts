import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { daemonIdentity } from '../helpers/launch';

/**
 * The packaged loader (src/boot/trld.ts) and its V8 code cache, on the real
 * bundle: made by `trld --write-code-cache` as the daemon's user, used only
 * when root's alone and made for this build and this Node; anything else is
 * named in the log and the daemon starts without it.
 */

const REPO = resolve(__dirname, '../../..');
const isRoot = process.getuid!() === 0;
let work = '';
let lib = '';
let goodDir = '';
let good = '';
const daemons: TestDaemon[] = [];

before(() => {
  if (!isRoot) return;
  // Under /tmp (sticky): the directories above a cache must be root's or sticky.
  work = mkdtempSync('/tmp/trl-code-cache-');
  chmodSync(work, 0o755);
  lib = join(work, 'lib');
  const built = spawnSync(process.execPath, [join(REPO, 'packaging/bundle.mjs'), '--out', lib], { encoding: 'utf8' });
  assert.equal(built.status, 0, `bundle: ${built.stderr}`);
  goodDir = join(work, 'good');
  mkdirSync(goodDir, { mode: 0o755 });
  good = join(goodDir, 'trld.cache');
});

after(async () => {
  await Promise.all(daemons.map((d) => d.dispose()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `trld --write-code-cache 3>FILE` (or trl's) as the daemon's user, as the postinst runs it. */
function writeCache(file: string, fd3 = true, program = 'trld.js'): Promise<{ code: number | null; stderr: string }> {
  const out = openSync(file, 'w', 0o600);
  const id = daemonIdentity();
  const child = spawn(process.execPath, [join(lib, program), '--write-code-cache'], {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    stdio: ['ignore', 'ignore', 'pipe', ...(fd3 ? [out] : [])],
    uid: id.uid,
    gid: id.gid,
  });
  closeSync(out);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((done) => child.on('exit', (code) => done({ code, stderr })));
}

/** A cache file's header (what it was made for) and V8's data after it. */
function splitCache(text: Buffer): { header: Record<string, string>; data: Buffer } {
  const first = text.indexOf(10);
  const end = text.indexOf(10, first + 1);
  return { header: JSON.parse(text.toString('utf8', first + 1, end)) as Record<string, string>, data: text.subarray(end + 1) };
}

/** trld started with TRL_CODE_CACHE_DIR=`dir` (its cache: `dir`/trld.cache). */
async function startWith(dir: string): Promise<{ state: unknown; warning: string | undefined; d: TestDaemon }> {
  const d = await TestDaemon.start({ entry: join(lib, 'trld.js'), env: { TRL_CODE_CACHE_DIR: dir } });
  daemons.push(d);
  const records = d.logRecords();
  const ready = records.find((r) => r.msg === 'trld ready');
  const warning = records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('V8 code cache not used'))?.msg as string | undefined;
  const ping = await d.oneShot({ id: 'p', method: 'system.ping' });
  assert.equal(ping.ok, true, 'the daemon answers whatever became of its cache');
  return { state: ready?.code_cache, warning, d };
}

test('trld --write-code-cache, run as the daemon\'s user, writes a cache for this build and Node; the next start uses it', async (t) => {
  if (!isRoot) return t.skip('a cache must be root\'s: the test runner is not root');
  const r = await writeCache(good);
  assert.equal(r.code, 0, r.stderr);
  chmodSync(good, 0o644);
  const text = readFileSync(good);
  assert.ok(text.length > 100_000, `the cache holds start-up's code (${text.length} bytes)`);
  const { header } = splitCache(text);
  assert.equal(header.node, process.version);
  assert.match(header.build!, /^[0-9a-f]{64}$/);
  assert.ok(readFileSync(join(lib, 'trld-main.js'), 'utf8').startsWith(`// trl-build ${header.build}\n`), 'made for the bundle beside the loader');
  const { state, warning } = await startWith(goodDir);
  assert.equal(state, 'used');
  assert.equal(warning, undefined);
});

test('trld --write-code-cache without fd 3 says how to run it', async (t) => {
  if (!isRoot) return t.skip('the test runner is not root');
  const r = await writeCache(join(work, 'unused'), false);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /fd 3.*3>FILE/);
});

test('a cache anyone but root could have written is refused, named, and the daemon starts without it', async (t) => {
  if (!isRoot) return t.skip('a cache must be root\'s: the test runner is not root');
  statSync(good);
  const id = daemonIdentity();
  const variant = (name: string, make: (path: string) => void): string => {
    const dir = join(work, name);
    mkdirSync(dir, { mode: 0o755 });
    make(join(dir, 'trld.cache'));
    return dir;
  };
  const cases: { name: string; path: string; why: RegExp }[] = [
    { name: 'owned by the daemon\'s user', path: variant('owner', (p) => (copyFileSync(good, p), chownSync(p, id.uid, id.gid))), why: /is owned by uid \d+, not root/ },
    { name: 'group-writable', path: variant('mode', (p) => (copyFileSync(good, p), chmodSync(p, 0o664))), why: /writable by group or others \(mode 664\)/ },
    { name: 'a symlink to a good cache', path: variant('link', (p) => symlinkSync(good, p)), why: /is a symbolic link/ },
    {
      name: 'in a directory of the daemon\'s user',
      path: variant('dir', (p) => (copyFileSync(good, p), chownSync(dirname(p), id.uid, id.gid))),
      why: /\/dir is owned by uid \d+, not root/,
    },
    { name: 'not a cache at all', path: variant('junk', (p) => writeFileSync(p, 'hello', { mode: 0o644 })), why: /is not a trld code cache/ },
    { name: 'relative', path: 'var/cache/trl', why: /TRL_CODE_CACHE_DIR must be an absolute path/ },
  ];
  for (const c of cases) {
    const { state, warning } = await startWith(c.path);
    assert.equal(state, 'refused', c.name);
    assert.match(warning ?? '', c.why, c.name);
    assert.match(warning ?? '', /dpkg-reconfigure trl/, `${c.name}: says how to make a new one`);
  }
});

test('a cache made for another build, or one V8 refuses, is not used; none there and TRL_CODE_CACHE_DIR= start quietly', async (t) => {
  if (!isRoot) return t.skip('a cache must be root\'s: the test runner is not root');
  const { header, data } = splitCache(readFileSync(good));
  const withHeader = (name: string, h: object, data: Buffer): string => {
    const dir = join(work, name);
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, 'trld.cache'), Buffer.concat([Buffer.from(`trl-code-cache 1\n${JSON.stringify(h)}\n`), data]), { mode: 0o644 });
    return dir;
  };
  let r = await startWith(withHeader('other-build', { ...header, build: 'f'.repeat(64) }, data));
  assert.equal(r.state, 'stale');
  assert.match(r.warning ?? '', /made for another build of trld/);
  r = await startWith(withHeader('other-node', { ...header, node: 'v20.0.0' }, data));
  assert.equal(r.state, 'stale');
  assert.match(r.warning ?? '', /made for Node v20\.0\.0 .*this is v/);
  const garbage = Buffer.from(data);
  garbage.fill(0x5a, 0, 4096);
  r = await startWith(withHeader('garbage', header, garbage));
  assert.equal(r.state, 'rejected', 'V8 checks its data and refuses it');
  assert.match(r.warning ?? '', /V8 refused/);
  r = await startWith(join(work, 'none'));
  assert.deepEqual([r.state, r.warning], ['absent', undefined]);
  r = await startWith('');
  assert.deepEqual([r.state, r.warning], ['off', undefined]);
});

test('trl, the CLI, makes its own cache the same way and runs with it, or without it when it is not root\'s, saying nothing', async (t) => {
  if (!isRoot) return t.skip('a cache must be root\'s: the test runner is not root');
  const r = await writeCache(join(goodDir, 'trl.cache'), true, 'trl.js');
  assert.equal(r.code, 0, r.stderr);
  chmodSync(join(goodDir, 'trl.cache'), 0o644);
  const { header } = splitCache(readFileSync(join(goodDir, 'trl.cache')));
  assert.ok(readFileSync(join(lib, 'trl-main.js'), 'utf8').startsWith(`// trl-build ${header.build}\n`), 'made for the CLI bundle beside its loader');
  const { d } = await startWith(goodDir);
  const bad = join(work, 'cli-owner');
  mkdirSync(bad, { mode: 0o755 });
  copyFileSync(join(goodDir, 'trl.cache'), join(bad, 'trl.cache'));
  chownSync(join(bad, 'trl.cache'), daemonIdentity().uid, daemonIdentity().gid);
  for (const dir of [goodDir, bad, '']) {
    const ping = spawnSync(process.execPath, [join(lib, 'trl.js'), '--socket', d.socketPath, 'ping'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', TRL_CODE_CACHE_DIR: dir } });
    assert.equal(ping.status, 0, `${dir || 'off'}: ${ping.stderr}`);
    assert.match(ping.stdout, /"version"/, dir || 'off');
    assert.equal(ping.stderr, '', `${dir || 'off'}: the CLI says nothing of its cache`);
  }
});

test('trl doctor, from the package\'s bundle, says whether both caches would be used, and what to do when not', async (t) => {
  if (!isRoot) return t.skip('a cache must be root\'s: the test runner is not root');
  // The CLI's cache, made by the test above (or here, when run alone).
  if (!existsSync(join(goodDir, 'trl.cache'))) {
    assert.equal((await writeCache(join(goodDir, 'trl.cache'), true, 'trl.js')).code, 0);
    chmodSync(join(goodDir, 'trl.cache'), 0o644);
  }
  const doctor = (dir: string) => {
    const r = spawnSync(process.execPath, [join(lib, 'trl.js'), 'doctor', '--json', '--unit', 'none', '--trl-env', 'none'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', TRL_CODE_CACHE_DIR: dir } });
    const report = JSON.parse(r.stdout) as { checks: { id: string; status: string; detail: string; fix?: string }[] };
    return report.checks.find((c) => c.id === 'code_caches')!;
  };
  let c = doctor(goodDir);
  assert.equal(c.status, 'pass', c.detail);
  assert.match(c.detail, /trld\.cache used by trld, .*trl\.cache used by trl/);
  const planted = join(work, 'planted');
  mkdirSync(planted, { mode: 0o755 });
  copyFileSync(join(goodDir, 'trld.cache'), join(planted, 'trld.cache'));
  chownSync(join(planted, 'trld.cache'), daemonIdentity().uid, daemonIdentity().gid);
  c = doctor(planted);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /trld: .*trld\.cache is owned by uid \d+, not root/);
  assert.match(c.detail, /trl\.cache is missing/);
  assert.match(c.fix ?? '', /dpkg-reconfigure trl/);
  assert.equal(doctor('').status, 'n/a');
});

test('the package\'s daemon shows a terminal command\'s screen: the emulator loads from beside the bundle on first use', async (t) => {
  if (!isRoot) return t.skip('the bundle is built in a root-owned directory: the test runner is not root');
  if (process.env.TRL_SPAWNER === 'child_process') return t.skip('TRL_SPAWNER=child_process: a controlling terminal needs the native process layer');
  const d = await TestDaemon.start({ entry: join(lib, 'trld.js'), env: { TRL_CODE_CACHE_DIR: '' } });
  daemons.push(d);
  assert.equal(readFileSync(join(lib, 'trld-main.js'), 'utf8').includes('This API only accepts integers'), false, 'the emulator is not inside the bundle');
  const c = await d.connect();
  try {
    const { session_id } = await c.createSession();
    const s = await c.stream({ session_id, command: "printf '\\033[2J\\033[3;5Hscreen from the package'; sleep 30", pty: { cols: 40, rows: 5 } });
    let screen = await c.screen(s.execId);
    for (let i = 0; i < 100 && !screen.lines.join('\n').includes('screen from the package'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      screen = await c.screen(s.execId);
    }
    assert.equal(screen.lines[2], '    screen from the package');
    await c.cancel(s.execId);
  } finally {
    c.close();
  }
});
