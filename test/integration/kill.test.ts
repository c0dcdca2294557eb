import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sleep, waitFor, withDaemonAndClient, type TestDaemon } from '../helpers/daemon';
import { argvOf, livePidsWithEnv, livePidsWithToken } from '../helpers/proc';
import { listPids, readProcState } from '../../src/system/proc';
import { escapees, hopperAlive, hopperFiles, killToken, stopHopper } from '../reliability/escapees';
import type { TrlClient } from '../../src/client/client';

/**
 * A kill that cannot be outrun (process-group fallback: this host has no
 * delegated cgroup), and an answer that comes after the tree is gone.
 * The harness sets TRL_KILL_GRACE_MS=1000.
 */

let client: TrlClient;
let daemon: TestDaemon;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});
// Orphans are adopted by the native layer (child subreaper); child_process cannot set that up.
const noAdoption = process.env.TRL_SPAWNER === 'child_process' && 'TRL_SPAWNER=child_process: only the native layer makes the leader and the daemon subreapers';

/** The children of `pid` as /proc shows them now, zombies included: pid → state letter. */
function childrenOf(pid: number): Map<number, string> {
  const found = new Map<number, string>();
  for (const p of listPids()) {
    const st = readProcState(p);
    if (st?.ppid === pid) found.set(p, st.state);
  }
  return found;
}

const ppidOf = (pid: number): number | undefined => readProcState(pid)?.ppid;
const tokens: string[] = [];
after(() => {
  for (const t of tokens) {
    stopHopper(t);
    killToken(t);
  }
});

async function session(): Promise<string> {
  return (await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
}

function marker(): { env: Record<string, string>; needle: string } {
  const value = randomUUID();
  return { env: { TRL_TEST_MARK: value }, needle: `TRL_TEST_MARK=${value}` };
}

function token(): string {
  const t = `tok-${randomUUID()}`;
  tokens.push(t);
  return t;
}

for (const [what, background] of [
  ['a TERM-ignoring background child', `sh -c 'trap "" TERM; exec sleep 300' &`],
  ['a stopped background child', `sleep 300 & kill -STOP $!;`],
] as const) {
  test(`timeout: exec.run answers timed_out only once ${what} is gone, and only then takes the next command`, async () => {
    const m = marker();
    const sid = await session();
    const r = await client.request<{ timed_out: boolean }>('exec.run', { session_id: sid, command: `${background} sleep 300`, timeout_s: 0.5, env: m.env });
    const left = livePidsWithEnv(m.needle);
    assert.equal(r.timed_out, true);
    assert.deepEqual(left, [], 'nothing of the tree is alive when the answer arrives');
    const next = await client.request<{ stdout: string }>('exec.run', { session_id: sid, command: 'echo next' });
    assert.equal(next.stdout, 'next\n');
  });
}

for (const how of ['timeout', 'cancel', 'destroy'] as const) {
  test(`${how}: a hopper (fork, parent exits, setsid, in a loop) does not survive`, async () => {
    const t = token();
    const m = marker();
    const sid = await session();
    // 100 µs between hops: fast enough to outrun a snapshot, slow enough not to flood the host with zombies.
    const command = `${escapees().hopper} ${t} 100 ${hopperFiles(t).beat} & sleep 300`;
    if (how === 'timeout') {
      const pending = client.request<{ timed_out: boolean }>('exec.run', { session_id: sid, command, timeout_s: 1, env: m.env });
      assert.ok(await hopperAlive(t, 500), 'the hopper hops');
      assert.equal((await pending).timed_out, true);
    } else {
      const s = await client.stream({ session_id: sid, command, env: m.env });
      assert.ok(await hopperAlive(t, 300), 'the hopper hops');
      if (how === 'cancel') {
        // exec.cancel answers at once (it escalates later); the stop is reported by the exit event.
        await client.request('exec.cancel', { exec_id: s.execId });
        for await (const ev of s.events) if (ev.event === 'exit') break;
      } else {
        await client.request('session.destroy', { session_id: sid });
      }
    }
    assert.equal(await hopperAlive(t, 300), false, `the hopper's heartbeat stopped after ${how}`);
    assert.deepEqual(livePidsWithEnv(m.needle), []);
  });
}

test('a non-dumpable setsid child whose parent lives is killed at timeout (its environment is hidden; the parent chain is not)', async () => {
  const t = token();
  const sid = await session();
  const r = await client.request<{ timed_out: boolean }>('exec.run', { session_id: sid, command: `${escapees().linked} ${t} & sleep 300`, timeout_s: 0.5 });
  assert.equal(r.timed_out, true);
  assert.deepEqual(livePidsWithToken(t), []);
});

test('a non-dumpable, double-forked, setsid daemon (no parent, group, session or readable marker) dies at timeout: the leader adopted it', { skip: noAdoption }, async () => {
  const t = token();
  const sid = await session();
  const r = await client.request<{ timed_out: boolean }>('exec.run', { session_id: sid, command: `${escapees().hidden} ${t}; sleep 300`, timeout_s: 0.5 });
  assert.equal(r.timed_out, true);
  assert.deepEqual(livePidsWithToken(t), []);
});

test('left running by a command that ended, it is the daemon\'s child: another session\'s destroy spares it, its own session\'s kills it', { skip: noAdoption }, async () => {
  const t = token();
  const mine = await session();
  await client.request('exec.run', { session_id: mine, command: `${escapees().hidden} ${t}` });
  assert.ok(await waitFor(() => livePidsWithToken(t).length === 1), 'the hidden daemon runs');
  const [pid] = livePidsWithToken(t);
  assert.equal(ppidOf(pid!), daemon.pid, 'adopted by the daemon, not by PID 1');
  const other = await session();
  await client.request('exec.run', { session_id: other, command: 'true' });
  await client.request('session.destroy', { session_id: other });
  assert.deepEqual(livePidsWithToken(t), [pid], 'another session\'s destroy left it alone');
  await client.request('session.destroy', { session_id: mine });
  assert.deepEqual(livePidsWithToken(t), [], 'its session\'s destroy killed it');
});

test('what the daemon adopted is reaped when it ends by itself: no zombie stays behind', { skip: noAdoption }, async () => {
  const sid = await session();
  await client.request('exec.run', { session_id: sid, command: '(sleep 0.6 &); (setsid sleep 0.6 &); (sh -c "sleep 0.6 & :" &)' });
  await sleep(200);
  const adopted = [...childrenOf(daemon.pid).keys()].filter((p) => argvOf(p)[0] === 'sleep');
  assert.equal(adopted.length, 3, 'the three sleeps are the daemon\'s children');
  assert.ok(await waitFor(() => [...childrenOf(daemon.pid)].every(([p]) => !adopted.includes(p)), 3000), 'each is gone, reaped');
  assert.deepEqual([...childrenOf(daemon.pid)].filter(([, state]) => state === 'Z'), [], 'no zombie child of the daemon');
  await client.request('session.destroy', { session_id: sid });
});
