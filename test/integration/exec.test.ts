import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';
import { expectError, killMarked, newSession, run, uniqueMarker } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

let daemon: TestDaemon;
let capped: TestDaemon;
let c: TrlClient;
let cc: TrlClient;
let scratch: string;

before(async () => {
  [daemon, capped] = await Promise.all([TestDaemon.start(), TestDaemon.start({ env: { TRL_MAX_OUTPUT_BYTES: '1024', TRL_MAX_STDIN_BYTES: '1024' } })]);
  [c, cc] = await Promise.all([daemon.connect(), capped.connect()]);
  scratch = makePrivateDir('trl-exec-');
});
after(async () => {
  killMarked();
  c.close();
  cc.close();
  await Promise.all([daemon.dispose(), capped.dispose()]);
  rmSync(scratch, { recursive: true, force: true });
});

const marker = uniqueMarker;
const stateOf = async (sid: string) => (await c.request<any>('session.info', { session_id: sid })).state;
const sessionCount = async () => (await c.request<any>('session.list')).sessions.length;

test('session.create refuses a missing shell, a non-executable shell, a missing or non-directory working_dir — and creates nothing', async () => {
  const notExec = join(scratch, 'not-executable.sh');
  writeFileSync(notExec, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  const id = daemonIdentity();
  chownSync(notExec, id.uid, id.gid);
  const before = await sessionCount();
  const statsBefore = (await c.request<any>('system.stats')).active_sessions;
  await expectError(c.request('session.create', { shell: '/no/such/shell' }), 'INVALID_PARAMS', /\/no\/such\/shell/);
  await expectError(c.request('session.create', { shell: 'no-such-shell-name' }), 'INVALID_PARAMS', /no-such-shell-name/);
  await expectError(c.request('session.create', { shell: notExec }), 'INVALID_PARAMS', /executable/);
  await expectError(c.request('session.create', { shell: '/usr' }), 'INVALID_PARAMS', /\/usr/);
  await expectError(c.request('session.create', { working_dir: '/no/such/dir' }), 'INVALID_PARAMS', /working_dir.*\/no\/such\/dir|\/no\/such\/dir/);
  await expectError(c.request('session.create', { working_dir: '/etc/passwd' }), 'INVALID_PARAMS', /not a directory/);
  await expectError(c.request('session.create', { working_dir: 'relative/dir' }), 'INVALID_PARAMS', /working_dir/);
  assert.equal(await sessionCount(), before);
  assert.equal((await c.request<any>('system.stats')).active_sessions, statsBefore);
});

test('a shell given by name is found in PATH', async () => {
  const s = await c.request<any>('session.create', { shell: 'bash' });
  assert.match(s.shell, /^\/.*\/bash$/);
  assert.equal((await run(c, s.session_id, 'echo $BASH_VERSION | cut -c1')).stdout.trim().length, 1);
  await c.request('session.destroy', { session_id: s.session_id });
});

test('the state wrapper does not change the meaning of commands: heredoc, trailing comment, trailing &, syntax error', async () => {
  const sid = await newSession(c);
  assert.equal((await run(c, sid, 'cat <<EOF\nhello $((1+1))\nEOF')).stdout, 'hello 2\n');
  const commented = await run(c, sid, 'cd /usr # a comment');
  assert.equal(commented.exit_code, 0);
  assert.equal((await run(c, sid, 'pwd')).stdout, '/usr\n');
  assert.equal((await run(c, sid, 'echo bg &')).stdout, 'bg\n');
  const bad = await run(c, sid, 'if then');
  assert.equal(bad.exit_code, 2);
  assert.match(bad.stderr, /then/);
  assert.equal((await run(c, sid, 'pwd')).stdout, '/usr\n', 'state kept after a syntax error');
  await c.request('session.destroy', { session_id: sid });
});

test('a command exporting a variable over 128 KiB gets its own exit code, without errors of the daemon’s wrapper', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, 'export BIG=$(head -c 200000 /dev/zero | tr "\\0" x); echo ok');
  assert.equal(r.stdout, 'ok\n');
  assert.equal(r.stderr, '', 'no wrapper error on stderr');
  assert.equal(r.exit_code, 0, 'the command succeeded');
  assert.equal((await run(c, sid, 'echo next')).exit_code, 0);
  await c.request('session.destroy', { session_id: sid });
});

test('COMMAND_FAILED when the session’s directory was removed; other sessions unaffected', async () => {
  const sid = await newSession(c);
  const other = await newSession(c);
  const dir = (await run(c, sid, 'd=$(mktemp -d /tmp/trl-gone-XXXXXX) && cd "$d" && pwd')).stdout.trim();
  assert.match(dir, /^\/tmp\/trl-gone-/);
  await run(c, other, `rmdir '${dir}'`);
  const err = await expectError(run(c, sid, 'echo hi'), 'COMMAND_FAILED');
  assert.ok(err.message.includes(dir), err.message);
  assert.equal((await run(c, other, 'echo fine')).stdout, 'fine\n');
  await c.request('session.destroy', { session_id: sid });
  await c.request('session.destroy', { session_id: other });
});

test('exit codes: 0, 1, exit 7', async () => {
  const sid = await newSession(c);
  assert.equal((await run(c, sid, 'true')).exit_code, 0);
  assert.equal((await run(c, sid, 'false')).exit_code, 1);
  const r = await run(c, sid, 'exit 7');
  assert.equal(r.exit_code, 7);
  assert.equal(r.timed_out, false);
  assert.equal((await run(c, sid, 'sh -c "exit 200"')).exit_code, 200);
  await c.request('session.destroy', { session_id: sid });
});

test('a command killed by a signal: exit_code 128+n and the signal field', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, 'echo before; kill -9 $$');
  assert.equal(r.exit_code, 137);
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(r.stdout, 'before\n');
  const t = await run(c, sid, 'kill -USR1 $$');
  assert.equal(t.exit_code, 128 + 10);
  assert.equal(t.signal, 'SIGUSR1');
  assert.equal((await run(c, sid, 'echo fine')).stdout, 'fine\n', 'session still usable');
  await c.request('session.destroy', { session_id: sid });
});

test('stdin is delivered and closed', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, 'cat; echo "[eof]"', { stdin: 'line one\nline two €\n' });
  assert.equal(r.stdout, 'line one\nline two €\n[eof]\n');
  const w = await run(c, sid, 'wc -c', { stdin: 'x'.repeat(100_000) });
  assert.equal(w.stdout.trim(), '100000');
  await c.request('session.destroy', { session_id: sid });
});

test('stdin larger than TRL_MAX_STDIN_BYTES is refused naming stdin; the session stays usable', async () => {
  const sid = await newSession(cc);
  await expectError(run(cc, sid, 'cat', { stdin: 'x'.repeat(1025) }), 'INVALID_PARAMS', /stdin/);
  assert.equal((await run(cc, sid, 'wc -c', { stdin: 'x'.repeat(1024) })).stdout.trim(), '1024');
  await cc.request('session.destroy', { session_id: sid });
});

test('a command that never reads its large stdin still ends normally', async () => {
  const sid = await newSession(c);
  const big = 'z'.repeat(1024 * 1024);
  const r = await run(c, sid, 'sleep 0.2; echo ignored', { stdin: big, timeout_s: 30 });
  assert.equal(r.timed_out, false);
  assert.equal(r.exit_code, 0);
  assert.equal(r.stdout, 'ignored\n');
  assert.equal((await run(c, sid, 'true', { stdin: big, timeout_s: 30 })).exit_code, 0);
  await c.request('session.destroy', { session_id: sid });
});

test('without stdin a reading command sees end-of-file at once', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, 'cat; read x || echo "no input"', { timeout_s: 30 });
  assert.equal(r.timed_out, false);
  assert.equal(r.exit_code, 0);
  assert.equal(r.stdout, 'no input\n');
  await c.request('session.destroy', { session_id: sid });
});

test('timeout: timed_out true, partial output kept, a setsid grandchild killed, the session idle and usable', async () => {
  const mark = marker();
  const sid = await newSession(c);
  const pending = run(c, sid, `echo partial; echo err-partial >&2; setsid sh -c 'sleep 300' & sleep 300`, {
    timeout_s: 1,
    env: { [mark]: '1' },
  });
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length >= 3, 5000), 'the command tree started (shell, setsid child, sleeps)');
  const r = await pending;
  assert.equal(r.timed_out, true);
  assert.equal(r.stdout, 'partial\n');
  assert.equal(r.stderr, 'err-partial\n');
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000), `left alive: ${livePidsWithEnv(`${mark}=1`)}`);
  assert.equal(await stateOf(sid), 'idle');
  const next = await run(c, sid, 'echo again');
  assert.equal(next.stdout, 'again\n');
  assert.equal(next.timed_out, false);
  await c.request('session.destroy', { session_id: sid });
});

test('timeout also kills a double-forked, setsid daemon that left the tree', async () => {
  const mark = marker();
  const sid = await newSession(c);
  const pending = run(c, sid, `setsid sh -c 'sleep 301 >/dev/null 2>&1 </dev/null &'; echo forked; sleep 300`, { timeout_s: 1, env: { [mark]: '1' } });
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length >= 3, 5000), 'shell, sleep and the re-parented daemon run');
  const r = await pending;
  assert.equal(r.timed_out, true);
  assert.equal(r.stdout, 'forked\n');
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000), `left alive: ${livePidsWithEnv(`${mark}=1`)}`);
  await c.request('session.destroy', { session_id: sid });
});

test('timeout of a command that ignores SIGTERM: killed after the grace period', async () => {
  const mark = marker();
  const sid = await newSession(c);
  const r = await run(c, sid, `trap '' TERM; echo started; sleep 300`, { timeout_s: 0.5, env: { [mark]: '1' } });
  assert.equal(r.timed_out, true);
  assert.equal(r.stdout, 'started\n');
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000));
  assert.equal(await stateOf(sid), 'idle');
  await c.request('session.destroy', { session_id: sid });
});

test('timeout precedence: command timeout_s over the session’s, the session’s over the runtime default', async () => {
  const sid = await newSession(c, { timeout_s: 0.3 });
  assert.equal((await c.request<any>('session.info', { session_id: sid })).timeout_s, 0.3);
  const bySession = await run(c, sid, 'sleep 10');
  assert.equal(bySession.timed_out, true, 'the session timeout applies');
  const byCommand = await run(c, sid, 'sleep 1; echo finished', { timeout_s: 30 });
  assert.equal(byCommand.timed_out, false, 'the command timeout overrides the session timeout');
  assert.equal(byCommand.stdout, 'finished\n');
  const noLimit = await run(c, sid, 'sleep 1; echo none', { timeout_s: 0 });
  assert.equal(noLimit.timed_out, false, 'timeout_s 0 means none');
  const shorter = await run(c, sid, 'sleep 10', { timeout_s: 0.2 });
  assert.equal(shorter.timed_out, true);
  await c.request('session.destroy', { session_id: sid });
  const dflt = await newSession(c);
  assert.equal((await c.request<any>('session.info', { session_id: dflt })).timeout_s, 300, 'runtime default');
  await c.request('session.destroy', { session_id: dflt });
});

test('SESSION_BUSY while a command runs; other sessions unaffected', async () => {
  const sid = await newSession(c);
  const other = await newSession(c);
  const pending = run(c, sid, 'sleep 1; echo slow');
  assert.ok(await waitFor(async () => (await stateOf(sid)) === 'running', 5000));
  await expectError(run(c, sid, 'echo second'), 'SESSION_BUSY');
  const listed = (await c.request<any>('session.list')).sessions.find((s: any) => s.session_id === sid);
  assert.equal(listed.state, 'running');
  assert.equal((await run(c, other, 'echo other')).stdout, 'other\n');
  const r = await pending;
  assert.equal(r.stdout, 'slow\n', 'the busy refusal did not disturb the running command');
  assert.equal(await stateOf(sid), 'idle');
  assert.equal((await run(c, sid, 'echo free')).stdout, 'free\n');
  await c.request('session.destroy', { session_id: sid });
  await c.request('session.destroy', { session_id: other });
});

test('session.destroy of a running session kills its whole tree, background jobs of earlier commands included', async () => {
  const mark = marker();
  const sid = await newSession(c, { env: { [mark]: '1' } });
  const bg = await run(c, sid, 'sleep 300 > /dev/null 2>&1 & echo started');
  assert.equal(bg.stdout, 'started\n');
  await run(c, sid, `setsid sh -c 'sleep 302 >/dev/null 2>&1 </dev/null &'`);
  const pending = run(c, sid, `setsid sh -c 'sleep 300' & sleep 300`);
  assert.ok(await waitFor(async () => (await stateOf(sid)) === 'running' && livePidsWithEnv(`${mark}=1`).length >= 5, 5000));
  const d = await c.request<any>('session.destroy', { session_id: sid });
  assert.deepEqual(d, { session_id: sid, state: 'terminated' });
  const answered = await pending.then(
    (r) => r,
    (e: Error) => e,
  );
  if (!(answered instanceof Error)) assert.notEqual(answered.exit_code, 0, 'the running command was stopped, not completed');
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000), `left alive: ${livePidsWithEnv(`${mark}=1`)}`);
  await expectError(c.request('session.info', { session_id: sid }), 'SESSION_NOT_FOUND');
  await expectError(run(c, sid, 'true'), 'SESSION_NOT_FOUND');
});

test('session.destroy with force kills a tree that ignores SIGTERM', async () => {
  const mark = marker();
  const sid = await newSession(c, { env: { [mark]: '1' } });
  const pending = run(c, sid, `trap '' TERM; sleep 300`).catch((e) => e);
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length >= 2, 5000));
  const d = await c.request<any>('session.destroy', { session_id: sid, force: true });
  assert.deepEqual(d, { session_id: sid, state: 'terminated' });
  await pending;
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000));
});

test('session.destroy without force also ends a tree that ignores SIGTERM (TERM, grace, KILL)', async () => {
  const mark = marker();
  const sid = await newSession(c, { env: { [mark]: '1' } });
  const pending = run(c, sid, `trap '' TERM; sleep 300`).catch((e) => e);
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length >= 2, 5000));
  await c.request('session.destroy', { session_id: sid });
  await pending;
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000));
});

test('a background job outlives its command (not killed when the command ends)', async () => {
  const mark = marker();
  const sid = await newSession(c, { env: { [mark]: '1' } });
  const r = await run(c, sid, 'sleep 300 > /dev/null 2>&1 &');
  assert.equal(r.exit_code, 0);
  assert.equal(livePidsWithEnv(`${mark}=1`).length, 1, 'the background sleep still runs');
  // one that keeps the output pipes open does not hold the answer back either
  const held = await run(c, sid, 'sleep 300 & echo started', { timeout_s: 60 });
  assert.equal(held.timed_out, false);
  assert.equal(held.stdout, 'started\n');
  assert.equal(livePidsWithEnv(`${mark}=1`).length, 2);
  await c.request('session.destroy', { session_id: sid });
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000));
});

test('output cap: a multi-byte character straddling the cap is never split; truncated flag and total bytes', async () => {
  const sid = await newSession(cc);
  // 1023 ASCII bytes, then a 3-byte character across the 1024-byte cap, then more
  const r = await run(cc, sid, `printf '%1023s' '' | tr ' ' a; printf '\\342\\202\\254tail'; printf '%1022s' '' | tr ' ' b >&2; printf '\\360\\237\\230\\200' >&2`);
  assert.equal(r.stdout, 'a'.repeat(1023));
  assert.equal(r.stdout_truncated, true);
  assert.equal(r.stdout_bytes, 1023 + 3 + 4);
  assert.equal(r.stderr, 'b'.repeat(1022));
  assert.equal(r.stderr_truncated, true);
  assert.equal(r.stderr_bytes, 1022 + 4);
  assert.ok(!r.stdout.includes('\ufffd') && !r.stderr.includes('\ufffd'));
  await cc.request('session.destroy', { session_id: sid });
});

test('output cap: output of exactly the cap, ending in a multi-byte character, is whole and not truncated', async () => {
  const sid = await newSession(cc);
  const r = await run(cc, sid, `printf '%1021s' '' | tr ' ' a; printf '\\342\\202\\254'`);
  assert.equal(r.stdout, 'a'.repeat(1021) + '€');
  assert.equal(r.stdout_truncated, false);
  assert.equal(r.stdout_bytes, 1024);
  assert.equal(r.stderr_truncated, false);
  assert.equal(r.stderr_bytes, 0);
  await cc.request('session.destroy', { session_id: sid });
});

test('multi-byte characters across pipe chunks come out whole', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, `i=0; while [ $i -lt 2000 ]; do printf 'é€😀%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; i=$((i+1)); done`);
  assert.equal(r.stdout, 'é€😀'.repeat(40_000));
  assert.equal(r.stdout_truncated, false);
  assert.equal(r.stdout_bytes, 9 * 40_000);
  await c.request('session.destroy', { session_id: sid });
});

test('invalid UTF-8 output does not crash anything', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, `printf '\\377\\376ok\\300\\n'; printf '\\355\\240\\200' >&2`);
  assert.equal(r.exit_code, 0);
  assert.ok(r.stdout.includes('ok'));
  assert.equal(r.stdout_bytes, 6);
  assert.equal(r.stderr_bytes, 3);
  assert.equal((await daemon.oneShot({ id: 'p', method: 'system.ping' })).ok, true);
  await c.request('session.destroy', { session_id: sid });
});

test('a 200 MB flood: capped output, every byte counted, the daemon’s RSS stays bounded, pings still answered', async () => {
  const sid = await newSession(c);
  const base = (await c.request<any>('system.stats')).memory_rss_bytes;
  const probe = await daemon.connect();
  let peak = base;
  let pings = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const s = await probe.request<any>('system.stats');
      peak = Math.max(peak, s.memory_rss_bytes);
      await probe.request('system.ping');
      pings++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const total = 200 * 1000 * 1000;
  const r = await run(c, sid, `yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c ${total}`, { timeout_s: 120 });
  done = true;
  await sampler;
  probe.close();
  assert.equal(r.exit_code, 0);
  assert.equal(r.stdout_bytes, total);
  assert.equal(r.stdout_truncated, true);
  assert.equal(Buffer.byteLength(r.stdout), 4 * 1024 * 1024);
  assert.ok(pings > 0, 'pings were answered during the flood');
  assert.ok(peak - base < 100 * 1024 * 1024, `RSS grew from ${base} to ${peak} during a ${total}-byte flood`);
  await c.request('session.destroy', { session_id: sid });
});
