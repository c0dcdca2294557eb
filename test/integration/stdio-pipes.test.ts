import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDaemonAndClient } from '../helpers/daemon';
import { newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

/*
 * Under the native spawner a command's stdin, stdout and stderr are pipes,
 * as in a shell pipeline: scripts that open /dev/stdin, /dev/stdout or
 * /dev/stderr work (on a socket, as child_process gives, opening them fails
 * with ENXIO).
 */

let c: TrlClient;
withDaemonAndClient({}, (_daemon, client) => {
  c = client;
});

const skip = (process.env.TRL_SPAWNER ?? 'native') !== 'native' && 'child_process gives sockets for stdio';

test('a command can open /dev/stdin, /dev/stdout and /dev/stderr, and sees pipes there', { skip }, async () => {
  const sid = await newSession(c);
  const r = await c.run({
    session_id: sid,
    command: 'cat /dev/stdin; echo out > /dev/stdout; echo err | tee /dev/stderr >/dev/null; stat -L -c %F /dev/stdin /dev/stdout /dev/stderr',
    stdin: 'in\n',
  });
  assert.equal(r.exit_code, 0, r.stderr);
  assert.equal(r.stdout, 'in\nout\nfifo\nfifo\nfifo\n');
  assert.equal(r.stderr, 'err\n');
});

test('stdin still ends for a command that reads it to the end, with and without bytes written', { skip }, async () => {
  const sid = await newSession(c);
  assert.equal((await run(c, sid, 'wc -c')).stdout.trim(), '0');
  const r = await c.run({ session_id: sid, command: 'wc -c < /dev/stdin', stdin: 'x'.repeat(200_000) });
  assert.equal(r.stdout.trim(), '200000', r.stderr);
});
