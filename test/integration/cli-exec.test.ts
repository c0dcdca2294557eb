import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID, createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { TestDaemon, sleep, waitFor, withDaemonAndClient } from '../helpers/daemon';
import { livePidsWithEnv } from '../helpers/proc';
import { collectStream, type TrlClient } from '../../src/client/client';

/** The `trl` command line: exec (live output, exit codes, -i, Ctrl-C), attach, cancel, execs. */

const TRL = resolve(__dirname, '../../../bin/trl');
let daemon: TestDaemon;
let client: TrlClient;
// A default timeout well below the tests' own, so that a test that waits in vain fails instead of hanging.
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

interface Cli {
  child: ChildProcess;
  stdout: () => Buffer;
  stderr: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>;
}

function startCli(args: string[], opts: { stdin?: string | Buffer; socket?: string } = {}): Cli {
  const child = spawn(process.execPath, [TRL, ...args], {
    cwd: '/tmp', // a temporary session starts in the current directory: one the daemon's user may enter
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TRL_SOCKET_PATH: opts.socket ?? daemon.socketPath },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>((r) =>
    child.on('close', (code, signal) => r({ code, signal, stdout: Buffer.concat(out), stderr: err })),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void done.then(() => clearTimeout(timer));
  return { child, stdout: () => Buffer.concat(out), stderr: () => err, done };
}

const runCli = (args: string[], opts: { stdin?: string | Buffer; socket?: string } = {}) => startCli(args, { stdin: '', ...opts }).done;

function marker(): { value: string; needle: string } {
  const value = randomUUID();
  return { value, needle: `TRL_TEST_MARK=${value}` };
}

async function session(): Promise<string> {
  return (await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
}

test('trl exec forwards stdout and stderr as raw bytes and exits with the command\'s exit code', async () => {
  const r = await runCli(['exec', '--', `echo out; echo err >&2; printf '\\377\\376x'; exit 3`]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout.toString('hex'), Buffer.concat([Buffer.from('out\n'), Buffer.from([0xff, 0xfe]), Buffer.from('x')]).toString('hex'));
  assert.equal(r.stderr, 'err\n');
  const ok = await runCli(['exec', '--', 'printf', '%s|', 'a b', "c'd", 'é€😀']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.toString(), "a b|c'd|é€😀|");
  // A larger output arrives complete.
  const big = await runCli(['exec', '--', 'seq 1 20000']);
  assert.equal(big.code, 0, big.stderr);
  assert.equal(big.stdout.toString(), Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join(''));
  // Binary output, NULs included, arrives as the bytes the command wrote (trl asks for base64 events).
  const bin = await runCli(['exec', '--', 'head -c 300000 /dev/urandom > /tmp/trl-cli-bin.$$ && head -c 70000 /dev/zero && cat /tmp/trl-cli-bin.$$ && sha256sum < /tmp/trl-cli-bin.$$ >&2; rm -f /tmp/trl-cli-bin.$$']);
  assert.equal(bin.code, 0, bin.stderr);
  assert.equal(bin.stdout.length, 370_000);
  assert.ok(bin.stdout.subarray(0, 70_000).equals(Buffer.alloc(70_000)), 'the NULs');
  assert.equal(createHash('sha256').update(bin.stdout.subarray(70_000)).digest('hex'), bin.stderr.split(' ')[0], 'the random bytes');
  // The temporary sessions are gone.
  const sessions = (await client.request<{ sessions: { session_id: string }[] }>('session.list')).sessions;
  assert.ok(sessions.length <= 64);
});

test('trl exec: 124 on timeout (wall or idle), 128+N when the command dies of signal N', async () => {
  const wall = await runCli(['exec', '--timeout', '0.3', '--', 'sleep 30']);
  assert.equal(wall.code, 124);
  assert.match(wall.stderr, /timed out/);
  const idle = await runCli(['exec', '--idle-timeout', '0.4', '--', 'echo hi; sleep 30']);
  assert.equal(idle.code, 124);
  assert.equal(idle.stdout.toString(), 'hi\n');
  const killed = await runCli(['exec', '--', 'kill -KILL $$']);
  assert.equal(killed.code, 137);
  const termed = await runCli(['exec', '--', 'kill -TERM $$']);
  assert.equal(termed.code, 143);
  const bad = await runCli(['exec', '--timeout', 'soon', '--', 'true']);
  assert.equal(bad.code, 2);
});

test('trl exec -e passes variables; --session runs in an existing session', async () => {
  const sid = await session();
  await client.request('exec.run', { session_id: sid, command: 'cd /usr' });
  const r = await runCli(['exec', '--session', sid, '-e', 'GREETING=hello there', '--', 'echo "$GREETING from $(pwd)"']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'hello there from /usr\n');
});

test('trl exec -i passes its own stdin through (and its end); without -i the command sees end-of-file', async () => {
  const input = 'hello\nwörld 😀\n' + 'x'.repeat(200_000) + '\nlast line without newline';
  const cat = await runCli(['exec', '-i', '--', 'cat'], { stdin: input });
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout.toString(), input);
  const read = await runCli(['exec', '-i', '--', 'read a; read b; echo "a=$a b=$b"'], { stdin: 'one\ntwo\n' });
  assert.equal(read.stdout.toString(), 'a=one b=two\n');
  const py = await runCli(['exec', '-i', '--', `python3 -c 'print("hi " + input("name? "))'`], { stdin: 'Ada\n' });
  assert.equal(py.stdout.toString(), 'name? hi Ada\n');
  const closed = await runCli(['exec', '--', 'cat; echo "eof seen"'], { stdin: 'not passed\n' });
  assert.equal(closed.stdout.toString(), 'eof seen\n');
});

test('SIGINT to trl exec cancels the remote command: its processes are gone and the exit code says SIGTERM', async () => {
  const m = marker();
  const cli = startCli(['exec', '-e', `TRL_TEST_MARK=${m.value}`, '--', 'echo started; sleep 300']);
  assert.ok(await waitFor(() => cli.stdout().toString().includes('started'), 15_000), 'the command started');
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 1), 'its processes run');
  cli.child.kill('SIGINT');
  const r = await cli.done;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /cancelling/);
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), `remote processes left: ${livePidsWithEnv(m.needle)}`);
});

test('a second SIGINT kills at once a command that ignores TERM', async () => {
  // A grace period far longer than the test: only the second Ctrl-C (SIGKILL) can end it in time.
  const slow = await TestDaemon.start({ env: { TRL_KILL_GRACE_MS: '120000', TRL_DEFAULT_TIMEOUT_S: '60' } });
  try {
    const m = marker();
    const cli = startCli(['exec', '-e', `TRL_TEST_MARK=${m.value}`, '--', `trap '' TERM; echo started; sleep 300`], { socket: slow.socketPath });
    assert.ok(await waitFor(() => cli.stdout().toString().includes('started'), 15_000));
    cli.child.kill('SIGINT');
    assert.ok(await waitFor(() => cli.stderr().includes('cancelling')));
    await sleep(500);
    assert.ok(livePidsWithEnv(m.needle).length >= 1, 'TERM was ignored: still running');
    assert.equal(cli.child.exitCode, null, 'trl waits for the command');
    cli.child.kill('SIGINT');
    const r = await cli.done;
    assert.equal(r.code, 137, r.stderr);
    assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
  } finally {
    await slow.dispose();
  }
});

test('when trl exec itself is killed, the command of its temporary session is cancelled', async () => {
  const m = marker();
  const cli = startCli(['exec', '-e', `TRL_TEST_MARK=${m.value}`, '--', 'echo started; sleep 300']);
  assert.ok(await waitFor(() => cli.stdout().toString().includes('started'), 15_000));
  cli.child.kill('SIGKILL');
  await cli.done;
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), `remote processes left: ${livePidsWithEnv(m.needle)}`);
});

test('trl attach follows a running command from the start (or from --from-stdout) and exits with its exit code', async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'seq 1 2000; echo warn >&2; read x; echo "end $x"; exit 5', stdin_open: true });
  const attached = startCli(['attach', s.execId]);
  const from = startCli(['attach', s.execId, '--from-stdout', '100', '--from-stderr', '2']);
  const want = Array.from({ length: 2000 }, (_, i) => `${i + 1}\n`).join('');
  assert.ok(await waitFor(() => attached.stdout().length >= want.length && from.stdout().length >= want.length - 100, 15_000));
  await client.input(s.execId, 'now\n', true);
  const [a, b] = await Promise.all([attached.done, from.done]);
  assert.equal(a.code, 5, a.stderr);
  assert.equal(a.stdout.toString(), want + 'end now\n');
  assert.equal(a.stderr, 'warn\n');
  assert.equal(b.code, 5, b.stderr);
  assert.equal(b.stdout.toString(), (want + 'end now\n').slice(100));
  assert.equal(b.stderr, 'rn\n');
  await collectStream(s.events);
  // After exit: the real status again.
  const late = await runCli(['attach', s.execId]);
  assert.equal(late.code, 5);
  assert.equal(late.stdout.toString(), want + 'end now\n');
  const missing = await runCli(['attach', 'no-such-exec']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /EXEC_NOT_FOUND/);
});

test('Ctrl-C on trl attach detaches and leaves the command running', async () => {
  const m = marker();
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'echo started; sleep 300', env: { TRL_TEST_MARK: m.value } });
  const cli = startCli(['attach', s.execId]);
  assert.ok(await waitFor(() => cli.stdout().toString().includes('started'), 15_000));
  cli.child.kill('SIGINT');
  const r = await cli.done;
  assert.equal(r.code, 130);
  assert.match(r.stderr, /detached/);
  await sleep(300);
  assert.ok(livePidsWithEnv(m.needle).length >= 1, 'still running');
  assert.equal((await client.execs(sid))[0]?.state, 'running');
  // trl cancel, trl execs.
  const listed = await runCli(['execs', '--session', sid]);
  assert.equal(listed.code, 0);
  const execs = JSON.parse(listed.stdout.toString()).execs;
  assert.equal(execs.length, 1);
  assert.equal(execs[0].exec_id, s.execId);
  assert.equal(execs[0].state, 'running');
  const cancelled = await runCli(['cancel', s.execId, '--signal', 'KILL']);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(JSON.parse(cancelled.stdout.toString()).signal, 'SIGKILL');
  const got = await collectStream(s.events);
  assert.equal(got.exit?.cancel_signal, 'SIGKILL');
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
  const again = await runCli(['cancel', s.execId]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /EXEC_NOT_RUNNING/);
});

test('trl ping, stats, sessions and destroy still work', async () => {
  const ping = await runCli(['ping']);
  assert.equal(ping.code, 0);
  assert.equal(typeof JSON.parse(ping.stdout.toString()).uptime_s, 'number');
  const stats = await runCli(['stats']);
  assert.equal(typeof JSON.parse(stats.stdout.toString()).memory_rss_bytes, 'number');
  const sid = await session();
  const list = await runCli(['sessions']);
  assert.ok(JSON.parse(list.stdout.toString()).sessions.some((s: { session_id: string }) => s.session_id === sid));
  const destroyed = await runCli(['destroy', sid]);
  assert.equal(destroyed.code, 0, destroyed.stderr);
  assert.equal(JSON.parse(destroyed.stdout.toString()).state, 'terminated');
  const usage = await runCli(['frobnicate']);
  assert.equal(usage.code, 2);
});
