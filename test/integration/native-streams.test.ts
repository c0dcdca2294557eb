import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { nativeAddon } from '../../src/native/addon';
import { nativeSpawner } from '../../src/exec/spawn-native';
import type { ByteSource, SpawnedProcess } from '../../src/exec/spawn';

/*
 * The native spawner's streams (the addon reads the fds; no net.Socket)
 * behave as the Readables the executor was written against: nothing is lost
 * before a listener comes or while paused, the end comes once, a stream
 * nobody reads still closes, and no fd stays open.
 */

const { addon, error } = nativeAddon();
const skip = addon ? false : `no addon: ${error}`;
const env = { PATH: '/usr/bin:/bin' };
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** After the loop's close phase: a stream's fd is closed a turn after its close. */
const openFds = async () => {
  await tick(20);
  return readdirSync('/proc/self/fd').length;
};

function closed(s: ByteSource): Promise<void> {
  return new Promise((r) => s.once('close', () => r()));
}

function exited(child: SpawnedProcess): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((r) => child.onExit((code, signal) => r([code, signal])));
}

test('output written before anyone listens is kept, with its end, for the listener that comes later; an empty stream nobody reads still ends', { skip }, async () => {
  const before = await openFds();
  const child = await nativeSpawner(addon!)({ file: '/bin/sh', args: ['-c', 'printf one; printf two >&2; printf three'], cwd: '/', env });
  const stateClosed = closed(child.state); // nothing is written there and nobody reads it
  const events: string[] = [];
  child.stdout.on('end', () => events.push('end'));
  child.stdout.on('close', () => events.push('close'));
  child.stdin.end();
  assert.deepEqual(await exited(child), [0, null]);
  await stateClosed;
  await tick(30); // stdout's and stderr's ends have been read meanwhile, and held with their bytes
  assert.equal(events.join(), '', 'no end before the bytes were taken');
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b;
    events.push('data');
  });
  child.stderr.on('data', (b: Buffer) => (err += b));
  await Promise.all([closed(child.stdout), closed(child.stderr)]);
  assert.equal(out, 'onethree');
  assert.equal(err, 'two');
  assert.deepEqual(events.filter((e, i) => e !== 'data' || events[i - 1] !== 'data'), ['data', 'end', 'close']);
  assert.equal(await openFds(), before, 'no fd left');
});

test('a paused stream holds its bytes (the command blocks once the pipe is full) and gives every one after resume', { skip }, async () => {
  // fd 3 is the state pipe: 3 MB go there while it is paused for a while.
  const child = await nativeSpawner(addon!)({ file: '/bin/sh', args: ['-c', 'yes abcdefghij | head -c 3000000 >&3'], cwd: '/', env });
  child.stdin.end();
  const sent = createHash('sha256').update('abcdefghij\n'.repeat(272728).slice(0, 3000000));
  const got = createHash('sha256');
  let seen = 0;
  child.stderr.resume();
  child.state.on('data', (b: Buffer) => {
    got.update(b);
    seen += b.length;
  });
  child.state.pause();
  child.stdout.resume();
  let ended = false;
  child.onExit(() => (ended = true));
  const done = Promise.all([closed(child.state), closed(child.stderr), exited(child)]);
  await tick(200);
  assert.ok(seen < 3000000, `paused: ${seen} bytes delivered`);
  assert.equal(ended, false, 'the command waits for its reader');
  child.state.resume();
  await done;
  assert.equal(seen, 3000000);
  assert.equal(got.digest('hex'), sent.digest('hex'));
});

test('destroy ends a stream at once, with one close, whatever it held; the fds are closed', { skip }, async () => {
  const before = await openFds();
  const child = await nativeSpawner(addon!)({ file: '/bin/sh', args: ['-c', 'printf held; exec sleep 30'], cwd: '/', env });
  child.stdin.end();
  await tick(50);
  let closes = 0;
  for (const s of [child.stdout, child.stderr, child.state]) {
    s.on('close', () => closes++);
    s.destroy();
    s.destroy();
  }
  await tick(10);
  assert.equal(closes, 3);
  assert.equal(child.signal('SIGKILL'), true);
  assert.deepEqual(await exited(child), [null, 'SIGKILL']);
  assert.equal(await openFds(), before, 'no fd left');
});

test('stdin written to is the command\'s input, and ending it is its end of file', { skip }, async () => {
  const child = await nativeSpawner(addon!)({ file: '/bin/sh', args: ['-c', 'wc -c'], cwd: '/', env });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  const outClosed = closed(child.stdout);
  child.stdin.write(Buffer.alloc(100000, 'x'));
  child.stdin.write('tail');
  child.stdin.end();
  assert.deepEqual(await exited(child), [0, null]);
  await outClosed;
  assert.equal(out.trim(), '100004');
});

test('a flooding stdout pipe grows to 1 MiB, eight at a time at most, and a closed one makes room for the next', { skip }, async () => {
  // Writes 1 MiB (a flood), then tells its stdout pipe's size (F_GETPIPE_SZ) on stderr and waits for stdin's end.
  const flood = `python3 -c 'import fcntl, sys
sys.stdout.buffer.write(b"x" * 1048576); sys.stdout.flush()
sys.stderr.write("%d\\n" % fcntl.fcntl(1, 1032)); sys.stderr.flush(); sys.stdin.read()'`;
  const start = async () => {
    const child = await nativeSpawner(addon!)({ file: '/bin/sh', args: ['-c', flood], cwd: '/', env });
    let read = 0;
    child.stdout.on('data', (b: Buffer) => (read += b.length));
    const size = new Promise<number>((resolve) => {
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b;
        if (err.endsWith('\n')) resolve(Number(err));
      });
    });
    return { child, size, read: () => read };
  };
  const floods = await Promise.all(Array.from({ length: 9 }, start));
  const sizes = await Promise.all(floods.map((f) => f.size));
  assert.deepEqual(
    sizes.sort((a, b) => a - b),
    [65536, ...Array(8).fill(1048576)],
  );
  for (const f of floods) f.child.stdin.end();
  await Promise.all(floods.map((f) => Promise.all([exited(f.child), closed(f.child.stdout)])));
  assert.ok(floods.every((f) => f.read() === 1048576));
  await tick(20); // the pipes' handles close on the loop's next close phase
  const next = await start();
  assert.equal(await next.size, 1048576, 'the closed pipes gave their room back');
  next.child.stdin.end();
  await exited(next.child);
});

test('a flood of small writes is read in full buffers: the grown pipe is read once it has filled, not at every write', { skip }, async () => {
  // tr writes 4 KiB at a time. Read at every write, this reader's chunks averaged a few KiB; read after a pause once the pipe is empty, close to 128 KiB.
  const child = await nativeSpawner(addon!)({ file: '/bin/sh', args: ['-c', "head -c 256M /dev/zero | tr '\\0' x"], cwd: '/', env });
  child.stdin.end();
  let bytes = 0;
  let chunks = 0;
  child.stdout.on('data', (b: Buffer) => {
    bytes += b.length;
    chunks++;
  });
  await Promise.all([exited(child), closed(child.stdout)]);
  assert.equal(bytes, 256 * 1024 * 1024);
  assert.ok(bytes / chunks >= 64 * 1024, `${chunks} chunks of ${Math.round(bytes / chunks / 1024)} KiB on average`);
});
