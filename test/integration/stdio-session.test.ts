import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { spawnStdioDaemon } from '../helpers/daemon';
import { isAlive, livePidsWithEnv } from '../helpers/proc';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** trld --stdio with line-by-line access to stdout. */
function startStdio(env: Record<string, string> = {}) {
  const { child, dir } = spawnStdioDaemon({ env });
  dirs.push(dir);
  children.push(child);
  const out: any[] = [];
  const raw: string[] = [];
  let stderr = '';
  let buf = '';
  const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      raw.push(line);
      const m = JSON.parse(line);
      out.push(m);
      for (const w of [...waiters]) if (w.pred(m)) waiters.splice(waiters.indexOf(w), 1), w.resolve(m);
    }
  });
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const next = (pred: (m: any) => boolean) =>
    new Promise<any>((resolve) => {
      const hit = out.find(pred);
      if (hit) return resolve(hit);
      waiters.push({ pred, resolve });
    });
  const ask = (id: string, method: string, params: object = {}) => {
    child.stdin!.write(JSON.stringify({ id, method, params }) + '\n');
    return next((m) => m.id === id);
  };
  return { child, out, raw, stderr: () => stderr, exited, next, ask, trailing: () => buf };
}

test('a scripted session through trld --stdio: responses and stream events on stdout, logs on stderr, exit 0 at end of input', async () => {
  const d = startStdio();
  const ping = await d.ask('1', 'system.ping');
  assert.equal(ping.ok, true);
  const sid = (await d.ask('2', 'session.create', { name: 'piped' })).data.session_id;
  const run = await d.ask('3', 'exec.run', { session_id: sid, command: 'cd /tmp && export CARRY=yes; echo hello' });
  assert.equal(run.data.stdout, 'hello\n');
  const carried = await d.ask('4', 'exec.run', { session_id: sid, command: 'echo "$PWD $CARRY"' });
  assert.equal(carried.data.stdout, '/tmp yes\n', 'the same shell-state rules as the socket');
  const bad = await d.ask('5', 'exec.run', { session_id: sid, command: '' });
  assert.equal(bad.error.code, 'INVALID_PARAMS', 'the same validation as the socket');
  d.child.stdin!.write('not json\n');
  const garbage = await d.next((m) => m.id === 'unknown');
  assert.equal(garbage.error.code, 'INVALID_PARAMS');
  const started = await d.ask('6', 'exec.stream', { session_id: sid, command: 'echo a; sleep 0.3; echo b' });
  const exit = await d.next((m) => m.event === 'exit' && m.exec_id === started.data.exec_id);
  assert.equal(exit.exit_code, 0);
  d.child.stdin!.end();
  const { code } = await d.exited;
  assert.equal(code, 0);
  assert.equal(d.trailing(), '', 'stdout ends with a complete line');
  assert.ok(d.out.every((m) => m.ok !== undefined || m.event !== undefined), 'stdout carries only responses and events');
  const streamed = d.out.filter((m) => m.event === 'output' && m.exec_id === started.data.exec_id).map((m) => m.data).join('');
  assert.equal(streamed, 'a\nb\n');
  const logs = d.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.ok(logs.some((l) => l.msg === 'request' && l.method === 'exec.run'), 'the log is on stderr');
  assert.ok(!d.raw.some((l) => l.includes('"msg"')), 'no log record on stdout');
});

test('end of input while commands run: their answers and exit events come first, then exit 0', async () => {
  const d = startStdio();
  const sid = (await d.ask('s', 'session.create')).data.session_id;
  const sid2 = (await d.ask('s2', 'session.create')).data.session_id;
  // both requests and the end of input go out together: nothing has finished yet
  d.child.stdin!.end(
    JSON.stringify({ id: 'run', method: 'exec.run', params: { session_id: sid, command: 'sleep 0.5; echo late-run' } }) + '\n' +
      JSON.stringify({ id: 'stream', method: 'exec.stream', params: { session_id: sid2, command: 'sleep 0.7; echo late-stream' } }) + '\n',
  );
  const { code } = await d.exited;
  assert.equal(code, 0);
  const run = d.out.find((m) => m.id === 'run');
  assert.equal(run?.data.stdout, 'late-run\n');
  const stream = d.out.find((m) => m.id === 'stream');
  const exit = d.out.find((m) => m.event === 'exit' && m.exec_id === stream?.data.exec_id);
  assert.equal(exit?.exit_code, 0, 'the stream finished before the daemon exited');
  assert.equal(exit?.cancelled, false);
  assert.ok(d.out.some((m) => m.event === 'output' && m.data === 'late-stream\n'));
});

test('children are killed on exit: a background job left in a session does not outlive trld --stdio', async () => {
  const marker = `STDIO_MARK_${randomUUID().replace(/-/g, '')}`;
  const d = startStdio();
  const sid = (await d.ask('s', 'session.create', { env: { [marker]: '1' } })).data.session_id;
  const r = await d.ask('bg', 'exec.run', { session_id: sid, command: 'sleep 300 >/dev/null 2>&1 & echo $!' });
  const pid = Number(r.data.stdout.trim());
  assert.ok(isAlive(pid), 'the background job runs while the daemon does');
  assert.ok(livePidsWithEnv(marker).includes(pid));
  d.child.stdin!.end();
  const { code } = await d.exited;
  assert.equal(code, 0);
  assert.equal(isAlive(pid), false);
  assert.deepEqual(livePidsWithEnv(marker), []);
});

test('SIGTERM in stdio mode: stops, kills what it started, exits 0', async () => {
  const marker = `STDIO_TERM_${randomUUID().replace(/-/g, '')}`;
  const d = startStdio();
  const sid = (await d.ask('s', 'session.create', { env: { [marker]: '1' } })).data.session_id;
  await d.ask('st', 'exec.stream', { session_id: sid, command: 'echo ready; sleep 300' });
  await d.next((m) => m.event === 'output' && m.data === 'ready\n');
  d.child.kill('SIGTERM');
  const { code } = await d.exited;
  assert.equal(code, 0);
  assert.deepEqual(livePidsWithEnv(marker), []);
});

test('the request-size limit applies as on the socket', async () => {
  const d = startStdio({ TRL_MAX_REQUEST_BYTES: '1024' });
  d.child.stdin!.write(JSON.stringify({ id: 'big', method: 'system.ping', params: { pad: 'x'.repeat(4000) } }) + '\n');
  const { code } = await d.exited;
  assert.equal(code, 0);
  assert.equal(d.out[0].error.code, 'INVALID_PARAMS');
  assert.match(d.out[0].error.message, /TRL_MAX_REQUEST_BYTES/);
});
