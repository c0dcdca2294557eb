import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TestDaemon, sleep, waitFor, withDaemonAndClient } from '../helpers/daemon';
import { livePidsWithEnv } from '../helpers/proc';
import { readProcStat } from '../../src/system/proc';
import { collectStream, type ExitEvent, type StreamEvent, type TrlClient } from '../../src/client/client';

/**
 * exec.cancel (default TERM → grace → KILL, explicit signals, whole trees),
 * timeouts (wall and idle), and what a client disconnect does and does not do.
 * The harness sets TRL_KILL_GRACE_MS=1000.
 */

let daemon: TestDaemon;
let client: TrlClient;
// A default timeout well below the tests' own, so that a test that waits in vain fails instead of hanging.
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

async function session(c: TrlClient = client): Promise<string> {
  return (await c.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
}

/** A unique variable for a command's environment, to find its processes (and their descendants) in /proc. */
function marker(): { env: Record<string, string>; needle: string } {
  const value = randomUUID();
  return { env: { TRL_TEST_MARK: value }, needle: `TRL_TEST_MARK=${value}` };
}

/** Iterates events until `until` says stop; returns the events seen. Leaves the iterator open. */
async function readUntil(it: AsyncIterator<StreamEvent>, until: (ev: StreamEvent, text: string) => boolean): Promise<{ events: StreamEvent[]; text: string }> {
  const events: StreamEvent[] = [];
  let text = '';
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error(`stream ended early; got ${JSON.stringify(events)}`);
    events.push(r.value);
    if (r.value.event === 'output') text += r.value.data;
    if (until(r.value, text)) return { events, text };
  }
}

const pgidOf = (pid: number): number | null => readProcStat(pid)?.pgrp ?? null;

test('cancel with no signal: TERM to the whole tree, a setsid grandchild included; the exit says cancelled by SIGTERM', async () => {
  const m = marker();
  const s = await client.stream({
    session_id: await session(),
    command: `setsid sh -c 'sleep 300' & sleep 300 & echo started; wait`,
    env: m.env,
  });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 3), 'shell, sleep and the setsid child run');
  const pids = livePidsWithEnv(m.needle);
  const groups = new Set(pids.map(pgidOf));
  assert.ok(groups.size >= 2, `the setsid child is in a process group of its own (groups ${[...groups]})`);

  const c = await client.cancel(s.execId);
  assert.equal(c.exec_id, s.execId);
  assert.equal(c.signal, 'SIGTERM');
  assert.equal(c.escalates, true);
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.ok(rest.exit, 'an exit event');
  assert.equal(rest.exit.cancelled, true);
  assert.equal(rest.exit.cancel_signal, 'SIGTERM');
  assert.equal(rest.exit.timed_out, false);
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), `every process of the tree is gone: ${livePidsWithEnv(m.needle)}`);
});

test('cancel with no signal escalates to SIGKILL after the grace period when TERM is ignored', async () => {
  const m = marker();
  const s = await client.stream({ session_id: await session(), command: `trap '' TERM; echo started; sleep 300`, env: m.env });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  await client.cancel(s.execId);
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.equal(rest.exit?.cancelled, true);
  assert.equal(rest.exit?.cancel_signal, 'SIGTERM');
  assert.equal(rest.exit?.signal, 'SIGKILL', 'the shell ignored TERM and was killed');
  assert.equal(rest.exit?.exit_code, 137);
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
});

test('cancel with an explicit signal sends that signal only: SIGINT ends a command that dies of it', async () => {
  const m = marker();
  const s = await client.stream({ session_id: await session(), command: `echo started; sleep 300`, env: m.env });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  // sh, sent SIGINT between two commands, still starts the next one and waits for it (as on a terminal): cancel once sleep runs.
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 2), 'sleep started');
  const c = await client.cancel(s.execId, 'INT');
  assert.equal(c.signal, 'SIGINT');
  assert.equal(c.escalates, false);
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.equal(rest.exit?.cancelled, true);
  assert.equal(rest.exit?.cancel_signal, 'SIGINT');
  assert.equal(rest.exit?.signal, 'SIGINT');
  assert.equal(rest.exit?.exit_code, 130);
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
});

test('an explicit SIGINT reaches every child forked up to the moment it is sent, as Ctrl-C on a terminal would', async () => {
  const m = marker();
  // A parent that forks a long-lived child every millisecond (perl: SIGINT left at its default, so it kills on arrival, even mid-fork):
  // children born while the tree is being read must get the signal too.
  const forker = `while (1) { if (!fork) { sleep 300; exit } select(undef, undef, undef, 0.001) }`;
  const s = await client.stream({ session_id: await session(), command: `echo started; exec perl -e '${forker}'`, env: m.env, timeout_s: 20 });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 20), 'the forker got going');
  await client.cancel(s.execId, 'INT');
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.equal(rest.exit?.cancel_signal, 'SIGINT');
  assert.equal(rest.exit?.timed_out, false, 'a child that never got SIGINT kept the command alive until its timeout');
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), 'every child died of the SIGINT');
});

test('an explicit signal the command survives does not escalate; a later SIGKILL ends it and the result names SIGKILL', async () => {
  const m = marker();
  const s = await client.stream({
    session_id: await session(),
    command: `trap 'echo got-usr1' USR1; echo started; while :; do sleep 0.05; done`,
    env: m.env,
  });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  await client.cancel(s.execId, 'SIGUSR1');
  await readUntil(it, (_e, text) => text.includes('got-usr1'));
  // Longer than the grace period: a TERM → KILL escalation would have ended it by now.
  await sleep(1800);
  const listed = (await client.execs()).find((e) => e.exec_id === s.execId);
  assert.equal(listed?.state, 'running', 'still running after a signal it handles');
  assert.ok(livePidsWithEnv(m.needle).length >= 1);
  await client.cancel(s.execId, 'SIGKILL');
  const rest = await readUntil(it, (e) => e.event === 'exit');
  const exit = rest.events.at(-1) as ExitEvent;
  assert.equal(exit.cancelled, true);
  assert.equal(exit.signal, 'SIGKILL');
  assert.equal(exit.cancel_signal, 'SIGKILL', 'the cancel that ended the command is the one reported');
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
});

test('an explicit signal is delivered once to each process, not once per way of finding it', async () => {
  // Python counts the SIGUSR1s it gets; a program that counts Ctrl-Cs ("press again to quit") must see one per cancel.
  const script = [
    'import signal, sys, time',
    'n = 0',
    'def h(*a):',
    '    global n',
    '    n += 1',
    'signal.signal(signal.SIGUSR1, h)',
    'print("ready", flush=True)',
    'while n == 0: time.sleep(0.01)',
    'time.sleep(1.5)',
    'print("count", n, flush=True)',
  ].join('\n');
  const s = await client.stream({ session_id: await session(), command: `exec python3 -c '${script}'` });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('ready'));
  await client.cancel(s.execId, 'SIGUSR1');
  const rest = await readUntil(it, (e) => e.event === 'exit');
  assert.equal(rest.text, 'count 1\n', 'one cancel, one signal');
});

test('cancel with an explicit SIGKILL reaches a setsid grandchild too', async () => {
  const m = marker();
  const s = await client.stream({ session_id: await session(), command: `setsid sleep 300 & echo started; wait`, env: m.env });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 2));
  await client.cancel(s.execId, 'KILL');
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.equal(rest.exit?.cancel_signal, 'SIGKILL');
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), `left: ${livePidsWithEnv(m.needle)}`);
});

test('cancel by session id stops the command running in that session', async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'echo started; sleep 300' });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  const c = await client.cancel({ session_id: sid });
  assert.equal(c.exec_id, s.execId);
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.equal(rest.exit?.cancelled, true);
  // The session is usable again.
  const r = await client.request<{ stdout: string }>('exec.run', { session_id: sid, command: 'echo again' });
  assert.equal(r.stdout, 'again\n');
});

test('cancelling a finished exec is EXEC_NOT_RUNNING (and so is input); a bad signal name is INVALID_PARAMS', async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'echo done' });
  assert.equal((await collectStream(s.events)).exit?.exit_code, 0);
  await assert.rejects(client.cancel(s.execId), { code: 'EXEC_NOT_RUNNING' });
  await assert.rejects(client.cancel(s.execId, 'KILL'), { code: 'EXEC_NOT_RUNNING' });
  await assert.rejects(client.cancel({ session_id: sid }), { code: 'EXEC_NOT_RUNNING' });
  await assert.rejects(client.input(s.execId, 'x'), { code: 'EXEC_NOT_RUNNING' });
  const t = await client.stream({ session_id: sid, command: 'sleep 0.5' });
  await assert.rejects(client.cancel(t.execId, 'NOTASIGNAL'), { code: 'INVALID_PARAMS' });
  assert.equal((await collectStream(t.events)).exit?.cancelled, false);
  // The daemon is fine.
  assert.equal(typeof (await client.request('system.ping')).uptime_s, 'number');
});

test('idle timeout: a command silent for idle_timeout_s is stopped and the exit says timeout "idle"', async () => {
  const m = marker();
  const s = await client.stream({ session_id: await session(), command: 'echo begin; sleep 300', idle_timeout_s: 0.5, env: m.env });
  const got = await collectStream(s.events);
  assert.equal(got.stdout.toString(), 'begin\n');
  assert.equal(got.exit?.timed_out, true);
  assert.equal(got.exit?.timeout, 'idle');
  assert.equal(got.exit?.cancelled, false);
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
});

test('idle timeout does not fire while the command keeps writing; the wall-clock timeout says timeout "wall"', async () => {
  const s = await client.stream({
    session_id: await session(),
    command: 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo $i; sleep 0.1; done',
    idle_timeout_s: 2,
  });
  const got = await collectStream(s.events);
  assert.equal(got.exit?.timed_out, false);
  assert.equal(got.exit?.timeout, null);
  assert.equal(got.exit?.exit_code, 0);
  assert.equal(got.stdout.toString().split('\n').length, 16);

  const w = await client.stream({ session_id: await session(), command: 'while :; do echo tick; sleep 0.05; done', timeout_s: 0.5, idle_timeout_s: 5 });
  const gw = await collectStream(w.events);
  assert.equal(gw.exit?.timed_out, true);
  assert.equal(gw.exit?.timeout, 'wall');
});

test('a client disconnect does not stop the command: it keeps running and can be attached and cancelled', async () => {
  const m = marker();
  const c1 = await daemon.connect();
  const s = await c1.stream({ session_id: await session(c1), command: 'while :; do echo tick; sleep 0.05; done', env: m.env });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('tick'));
  c1.destroy();
  await sleep(600);
  assert.ok(livePidsWithEnv(m.needle).length >= 1, 'the command still runs after its client went away');
  assert.equal((await client.execs()).find((e) => e.exec_id === s.execId)?.state, 'running');
  const c2 = await daemon.connect();
  const a = await c2.attach(s.execId);
  assert.equal(a.response.state, 'running');
  await c2.cancel(s.execId);
  const got = await collectStream(a.events);
  assert.equal(got.exit?.cancelled, true);
  assert.ok(got.stdout.toString().startsWith('tick\n'));
  c2.close();
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0));
});

test('kill_on_disconnect: the command is cancelled when the connection that started it closes', async () => {
  const m = marker();
  const c1 = await daemon.connect();
  const s = await c1.stream({
    session_id: await session(c1),
    command: 'while :; do echo tick; sleep 0.05; done',
    env: m.env,
    kill_on_disconnect: true,
  });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('tick'));
  assert.ok(livePidsWithEnv(m.needle).length >= 1);
  c1.destroy();
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), 'its processes are gone');
  assert.ok(
    await waitFor(async () => (await client.execs()).find((e) => e.exec_id === s.execId)?.state === 'exited'),
    'exec.list shows it exited',
  );
  const e = (await client.execs()).find((x) => x.exec_id === s.execId);
  assert.equal(e?.cancelled, true);
});

test('a reader that breaks out of its loop does not stop the command (only the connection matters)', async () => {
  const c1 = await daemon.connect();
  const s = await c1.stream({ session_id: await session(c1), command: 'echo one; sleep 0.5; echo two; exit 4' });
  for await (const ev of s.events) if (ev.event === 'output') break;
  const a = await client.attach(s.execId);
  const got = await collectStream(a.events);
  assert.equal(got.stdout.toString(), 'one\ntwo\n');
  assert.equal(got.exit?.exit_code, 4);
  c1.close();
});

test('kill_on_disconnect also fires for a silent command (nothing written to the gone client)', async () => {
  const m = marker();
  const c1 = await daemon.connect();
  const s = await c1.stream({ session_id: await session(c1), command: 'echo started; sleep 300', env: m.env, kill_on_disconnect: true });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, text) => text.includes('started'));
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 1));
  c1.destroy();
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0, 10_000), `processes left 10 s after the disconnect: ${livePidsWithEnv(m.needle)}`);
  // The exec is reported ended once its stop has confirmed the tree gone: a moment after the last process died.
  assert.ok(await waitFor(async () => (await client.execs()).find((x) => x.exec_id === s.execId)?.state === 'exited', 5000));
  const e = (await client.execs()).find((x) => x.exec_id === s.execId);
  assert.equal(e?.state, 'exited');
  assert.equal(e?.cancelled, true);
});
