import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';
import { httpRequest, httpUrlOf } from '../helpers/http';

// The token is a canary: it must reach no command, no log line (trace level), no response.
const TOKEN = `canary-http-token-${randomUUID().replace(/-/g, '')}`;
let daemon: TestDaemon;
let fileDir: string;
const responses: string[] = [];
let childEnv = '';
let pidsWithToken: number[] = [];

before(async () => {
  fileDir = makePrivateDir('trl-http-canary-');
  const envFile = join(fileDir, 'trl.env');
  writeFileSync(envFile, `TRL_AUTH_TOKEN=${TOKEN}\nTRL_HTTP_LISTEN=127.0.0.1:0\n`, { mode: 0o600 });
  const id = daemonIdentity();
  chownSync(envFile, id.uid, id.gid);
  daemon = await TestDaemon.start({ env: { TRL_LOG_LEVEL: 'trace', TRL_ENV_FILE: envFile, TRL_MAX_REQUEST_BYTES: '1024' } });
  const url = httpUrlOf(daemon);
  const json = { 'Content-Type': 'application/json' };
  const auth = { ...json, Authorization: `Bearer ${TOKEN}` };
  const send = async (opts: Parameters<typeof httpRequest>[1]) => {
    const r = await httpRequest(url, opts);
    responses.push(r.text, JSON.stringify(r.headers));
    return r;
  };
  const created = await send({ headers: auth, body: { id: '1', method: 'session.create', params: { env: { A: 'b' } } } });
  const sid = JSON.parse(created.text).data.session_id;
  const env = await send({ headers: auth, body: { id: '2', method: 'exec.run', params: { session_id: sid, command: 'env; tr "\\0" "\\n" </proc/self/environ' } } });
  childEnv = JSON.parse(env.text).data.stdout;
  // a long-running command: every live process is scanned for the token meanwhile
  await send({ headers: auth, body: { id: '3', method: 'exec.stream', params: { session_id: sid, command: 'echo up; sleep 0.5; echo down' } } });
  const sid2 = JSON.parse((await send({ headers: auth, body: { id: '4', method: 'session.create' } })).text).data.session_id;
  const bg = send({ headers: auth, body: { id: '5', method: 'exec.run', params: { session_id: sid2, command: 'echo "$TRL_EXEC_ID" >/dev/null; sleep 1' } } });
  await waitFor(async () => JSON.parse((await httpRequest(url, { headers: auth, body: { id: 'x', method: 'system.stats' } })).text).data.running_commands > 0);
  pidsWithToken = livePidsWithEnv(TOKEN).filter((p) => p !== daemon.pid);
  await bg;
  // the failure paths, with the token (or something containing it) presented wrongly
  await send({ headers: { ...json, Authorization: `Bearer ${TOKEN}x` }, body: { id: '6', method: 'system.ping' } });
  await send({ headers: { ...json, Authorization: `Bearer x${TOKEN}` }, body: { id: '7', method: 'system.ping' } });
  await send({ headers: { ...json, Authorization: `Token ${TOKEN}` }, body: { id: '8', method: 'system.ping' } });
  await send({ headers: { ...json, Authorization: `Bearer ${TOKEN.slice(0, 20)}` }, body: { id: '9', method: 'system.ping' } });
  await send({ headers: auth, body: '{not json' });
  await send({ headers: auth, body: { id: '10', method: 'no.such' } });
  await send({ headers: auth, body: { id: '11', method: 'session.info', params: { session_id: sid } } });
  await send({ headers: auth, body: { id: '12', method: 'system.stats' } });
  await send({ headers: auth, body: { id: '13', method: 'system.ping', params: { pad: 'y'.repeat(2000) } } });
  await send({ headers: { ...auth, 'Content-Type': 'text/plain' }, body: 'x' });
  await send({ headers: auth, path: '/other', body: {} });
  await send({ headers: auth, method: 'GET' });
  responses.push(JSON.stringify(await daemon.oneShot({ id: 's', method: 'system.stats' })));
  await daemon.stop('SIGTERM');
});
after(async () => {
  await daemon.dispose();
  rmSync(fileDir, { recursive: true, force: true });
});

test('the requests were served (so the absence below means something)', async () => {
  assert.ok(childEnv.includes('A=b'), 'the command printed its environment');
  assert.ok(childEnv.includes('TRL_EXEC_ID='));
  assert.ok(responses.some((r) => r.includes('"AUTH_FAILED"')));
  assert.ok(await waitFor(() => daemon.logRecords().some((r) => r.msg === 'HTTP authentication failed')));
});

test('the token is not in the environment of any command (nor any TRL_AUTH_TOKEN name)', () => {
  assert.ok(!childEnv.includes(TOKEN));
  assert.ok(!childEnv.includes('TRL_AUTH_TOKEN'));
  assert.deepEqual(pidsWithToken, [], 'no live process other than the daemon carries the token in its environment');
});

test('the token is in no log line (trace level) and nothing the daemon wrote to stderr', () => {
  const lines = daemon.logs.split('\n').filter(Boolean);
  assert.ok(lines.length > 20);
  for (const line of lines) assert.ok(!line.includes(TOKEN), `log line leaks the token: ${line.slice(0, 200)}`);
  assert.ok(!daemon.stderr.includes(TOKEN));
  // nor a recognizable part of it
  assert.ok(!daemon.logs.includes(TOKEN.slice(-16)));
});

test('the token is in no response, body or header', () => {
  assert.ok(responses.length >= 30);
  for (const r of responses) assert.ok(!r.includes(TOKEN.slice(-16)), `response leaks the token: ${r.slice(0, 200)}`);
});

test('no file the daemon wrote holds the token (the env file aside)', () => {
  for (const f of daemon.filesWritten()) assert.ok(!f.content.includes(TOKEN), f.path);
});
