import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonNotFoundError, connectToDaemon } from '../../src/client/discover';
import { socketCandidates } from '../../src/client/socket-path';
import { defaultSocketPath } from '../../src/client/client';

const dir = mkdtempSync(join(tmpdir(), 'trl-discover-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A real listening Unix socket at `path`; counts the connections it accepts. */
async function listen(path: string): Promise<{ accepted: () => number }> {
  let n = 0;
  const server = createServer((c) => {
    n++;
    c.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { accepted: () => n };
}

let k = 0;
/** A fresh $XDG_RUNTIME_DIR and a fresh stand-in for /run/trl/trl.sock. */
function layout() {
  const root = join(dir, String(k++));
  const xdg = join(root, 'xdg');
  mkdirSync(join(xdg, 'trl'), { recursive: true });
  mkdirSync(join(root, 'run'), { recursive: true });
  return { xdg, user: join(xdg, 'trl', 'trl.sock'), system: join(root, 'run', 'trl.sock') };
}

test('order: --socket, then TRL_SOCKET_PATH, each alone; else the user instance, then the system instance', () => {
  const env = { TRL_SOCKET_PATH: '/from/env.sock', XDG_RUNTIME_DIR: '/run/user/1000' };
  assert.deepEqual(socketCandidates({ socket: '/from/flag.sock', env }).map((c) => c.path), ['/from/flag.sock']);
  assert.deepEqual(socketCandidates({ env }).map((c) => c.path), ['/from/env.sock']);
  assert.deepEqual(socketCandidates({ env: { XDG_RUNTIME_DIR: '/run/user/1000' } }).map((c) => c.path), ['/run/user/1000/trl/trl.sock', '/run/trl/trl.sock']);
  assert.deepEqual(socketCandidates({ env: {} }).map((c) => c.path), ['/run/trl/trl.sock'], 'without XDG_RUNTIME_DIR only the system instance');
});

test('defaultSocketPath: the first present of user and system instance; a named one always', () => {
  const present = new Set(['/run/trl/trl.sock']);
  const exists = (p: string) => present.has(p);
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, exists), '/run/trl/trl.sock');
  present.add('/run/user/1000/trl/trl.sock');
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }, exists), '/run/user/1000/trl/trl.sock');
  assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/1000', TRL_SOCKET_PATH: '/nowhere.sock' }, exists), '/nowhere.sock');
});

test('the user instance wins over the system instance when both listen', async () => {
  const l = layout();
  const user = await listen(l.user);
  const system = await listen(l.system);
  const client = await connectToDaemon({ env: { XDG_RUNTIME_DIR: l.xdg }, systemSocket: l.system });
  assert.equal(client.socketPath, l.user);
  client.close();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(user.accepted(), 1);
  assert.equal(system.accepted(), 0);
});

test('no user socket: the system instance is used', async () => {
  const l = layout();
  await listen(l.system);
  const client = await connectToDaemon({ env: { XDG_RUNTIME_DIR: l.xdg }, systemSocket: l.system });
  assert.equal(client.socketPath, l.system);
  client.close();
});

test('a user socket nobody listens on (stale file) is passed over for the system instance', async () => {
  const l = layout();
  writeFileSync(l.user, ''); // present, but connecting is refused
  await listen(l.system);
  const client = await connectToDaemon({ env: { XDG_RUNTIME_DIR: l.xdg }, systemSocket: l.system });
  assert.equal(client.socketPath, l.system);
  client.close();
});

test('TRL_SOCKET_PATH is used alone even when the user instance listens', async () => {
  const l = layout();
  await listen(l.user);
  await assert.rejects(connectToDaemon({ env: { XDG_RUNTIME_DIR: l.xdg, TRL_SOCKET_PATH: join(l.xdg, 'elsewhere.sock') }, systemSocket: l.system }), (err: Error) => {
    assert.ok(err instanceof DaemonNotFoundError);
    assert.deepEqual(err.tried.map((t) => t.candidate.source), ['TRL_SOCKET_PATH']);
    assert.match(err.message, /elsewhere\.sock \(TRL_SOCKET_PATH\): ENOENT/);
    return true;
  });
});

test('nothing answers: the error names every path tried and the command that starts the user instance', async () => {
  const l = layout();
  writeFileSync(l.system, '');
  await assert.rejects(connectToDaemon({ env: { XDG_RUNTIME_DIR: l.xdg }, systemSocket: l.system }), (err: Error) => {
    assert.ok(err instanceof DaemonNotFoundError);
    assert.ok(err.message.includes(`${l.user} ($XDG_RUNTIME_DIR/trl/trl.sock): not present`), err.message);
    assert.ok(err.message.includes(`${l.system} (the system instance): ECONNREFUSED`), err.message);
    assert.ok(err.message.includes('systemctl --user enable --now trl.socket'), err.message);
    return true;
  });
});

test('without XDG_RUNTIME_DIR the error says where the user instance would have been', async () => {
  const l = layout();
  await assert.rejects(connectToDaemon({ env: {}, systemSocket: l.system }), (err: Error) => {
    assert.match(err.message, /\$XDG_RUNTIME_DIR\/trl\/trl\.sock \(your own instance\): XDG_RUNTIME_DIR is not set/);
    assert.ok(err.message.includes(`${l.system} (the system instance): not present`), err.message);
    return true;
  });
});
