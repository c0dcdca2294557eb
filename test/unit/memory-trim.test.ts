import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { MemoryTrim, collection } from '../../src/system/memory-trim';

const MiB = 1024 * 1024;

/** A trimmer whose timers are node:test's mock timers, and what it did. */
function trimmer(t: import('node:test').TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const did: string[] = [];
  const trim = new MemoryTrim(
    () => did.push('trim'),
    () => did.push('collect'),
    () => did.push('young'),
  );
  return { trim, did, tick: (ms: number) => t.mock.timers.tick(ms) };
}

test('a quiet daemon, or one reading a trickle, never trims', (t) => {
  const { trim, did, tick } = trimmer(t);
  for (let s = 0; s < 600; s++) {
    trim.outputRead(16 * 1024);
    tick(1000);
  }
  assert.deepEqual(did, [], '9.4 MiB over ten minutes');
});

test('a flood is looked at once a second while it goes on, and collected and trimmed once, after it stops', (t) => {
  const { trim, did, tick } = trimmer(t);
  trim.outputRead(20 * MiB);
  tick(999);
  assert.deepEqual(did, [], 'never inside the read, and not before the delay');
  trim.outputRead(30 * MiB);
  tick(1);
  assert.deepEqual(did, [], 'the flood goes on: its next reads would fault trimmed pages back in');
  trim.outputRead(5 * MiB);
  tick(1000);
  assert.deepEqual(did, []);
  tick(1000);
  assert.deepEqual(did, ['collect'], 'the flood stopped: dead buffers collected');
  tick(250);
  assert.deepEqual(did, ['collect', 'trim'], 'and trimmed once V8 has freed them');
  tick(5749);
  assert.deepEqual(did, ['collect', 'trim']);
  tick(1);
  assert.deepEqual(did, ['collect', 'trim', 'young'], 'quiet for 6 s: V8 may shrink its new space');
  tick(60_000);
  assert.equal(trim.count, 1, 'nothing more while quiet');
  assert.equal(did.length, 3);
});

test('commands that start again put the young collection off until 6 s after their own trim', (t) => {
  const { trim, did, tick } = trimmer(t);
  for (let i = 0; i < 1001; i++) trim.commandEnded();
  tick(1000);
  tick(250);
  assert.deepEqual(did, ['collect', 'trim']);
  tick(3000);
  for (let i = 0; i < 1001; i++) trim.commandEnded();
  tick(1000);
  tick(250);
  assert.deepEqual(did, ['collect', 'trim', 'collect', 'trim'], 'at 5.5 s');
  tick(5749);
  assert.deepEqual(did, ['collect', 'trim', 'collect', 'trim'], 'none 6 s after the first: V8 would see commands 3 s before and shrink nothing');
  tick(1);
  assert.deepEqual(did, ['collect', 'trim', 'collect', 'trim', 'young']);
  for (let i = 0; i < 100; i++) trim.commandEnded();
  tick(60_000);
  assert.equal(did.length, 5, 'a hundred commands later: no trim due, nothing runs');
});

test('output read since the last collection puts the young collection off', (t) => {
  const { trim, did, tick } = trimmer(t);
  trim.outputRead(20 * MiB);
  tick(1000);
  tick(250);
  trim.outputRead(2 * MiB);
  tick(60_000);
  assert.deepEqual(did, ['collect', 'trim'], '2 MiB read: the next 14 MiB make a trim due, and it brings its own');
});

test('a stream of commands makes a trim due too: about one per thousand commands, and one after the stream stops', (t) => {
  const { trim, did, tick } = trimmer(t);
  for (let i = 0; i < 999; i++) trim.commandEnded();
  tick(5000);
  assert.deepEqual(did, [], '999 commands');
  for (let i = 0; i < 2; i++) trim.commandEnded();
  tick(1000);
  tick(250);
  assert.deepEqual(did, ['collect', 'trim'], 'the stream stopped after 1 001');
  tick(6000);
  assert.deepEqual(did, ['collect', 'trim', 'young']);
});

test('a daemon that has just started gives back what its start left a second later', (t) => {
  const { trim, did, tick } = trimmer(t);
  trim.startedUp();
  tick(1000);
  tick(250);
  assert.deepEqual(did, ['collect', 'trim']);
  tick(6000);
  assert.deepEqual(did, ['collect', 'trim', 'young'], 'and the young generation its start grew');
});

test('a flood right after the start puts that off until it stops', (t) => {
  const { trim, did, tick } = trimmer(t);
  trim.startedUp();
  trim.outputRead(4 * MiB);
  tick(1000);
  assert.deepEqual(did, [], 'the flood goes on');
  tick(1000);
  tick(250);
  assert.deepEqual(did, ['collect', 'trim']);
});

test('a collection leaves V8\'s flags as they were: a code cache made after it is accepted by a new process', () => {
  // trld --write-code-cache makes its cache from a running daemon, which trims a second after ready.
  const { Script } = require('node:vm') as typeof import('node:vm');
  const source = 'function answer() { return 42; } answer();';
  collection('full');
  collection('young');
  const made = new Script(source);
  made.runInThisContext();
  const data = made.createCachedData().toString('base64');
  const check = `const { Script } = require('node:vm'); process.stdout.write(String(new Script(${JSON.stringify(source)}, { cachedData: Buffer.from(process.argv[1], 'base64') }).cachedDataRejected));`;
  const r = spawnSync(process.execPath, ['-e', check, data], { encoding: 'utf8' });
  assert.equal(r.stdout, 'false', `V8 refused the cache: ${r.stderr}`);
});

/** The kinds of V8 collections `run` caused, as perf_hooks reports them. */
async function collectionsOf(run: () => void): Promise<number[]> {
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  obs.observe({ entryTypes: ['gc'] });
  run();
  await new Promise((r) => setTimeout(r, 100));
  obs.disconnect();
  return kinds;
}

test('the collections are the kinds they say: a full one frees dead output buffers, a young one is cheap', async () => {
  const full = await collectionsOf(() => collection('full'));
  assert.ok(full.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a full collection ran (kinds ${full})`);
  const young = await collectionsOf(() => collection('young'));
  assert.deepEqual(young, [constants.NODE_PERFORMANCE_GC_MINOR]);
});
