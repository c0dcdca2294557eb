import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DAEMON_ENTRY, launch, makePrivateDir } from '../helpers/launch';
import { RawWire } from '../helpers/raw-wire';

// A real NOTIFY_SOCKET: an AF_UNIX datagram socket, as systemd's manager has.
// Node has no unix datagram sockets, so a few lines of Python hold it. It
// reports each datagram with the sender's pid from SCM_CREDENTIALS (what
// NotifyAccess=main checks), and closes any fds a sender attaches (systemd
// 252's systemd-notify sends BARRIER=1 with one; sd-notify sends none).
const LISTENER = `
import array, json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)  # the daemon under test may run as another user
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 16))
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(cdata[: len(cdata) - len(cdata) % 4])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"pid": pid, "data": data.decode("utf-8", "replace")}), flush=True)
`;

interface Datagram { pid: number | null; data: string }

class NotifyListener {
  readonly path: string;
  readonly got: Datagram[] = [];
  private readonly proc: ChildProcess;
  private waiters: (() => void)[] = [];

  private constructor(dir: string) {
    this.path = join(dir, 'notify.sock');
    this.proc = spawn('python3', ['-c', LISTENER, this.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as Datagram & { listening?: boolean };
      if (!msg.listening) this.got.push(msg);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async start(dir: string): Promise<NotifyListener> {
    const l = new NotifyListener(dir);
    await l.until(() => existsSync(l.path), 5000);
    return l;
  }

  /** Resolves once cond() holds, re-checked on each datagram. */
  async until(cond: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out; got ${JSON.stringify(this.got)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}

const notifyModule = resolve(__dirname, '../../src/system/systemd-notify.js');

/** The sd-notify addon builds only where libsystemd-dev is installed (make test installs it as root). */
const NO_ADDON = (() => {
  try {
    require('sd-notify');
    return false;
  } catch {
    return 'the sd-notify addon is not built here: apt-get install libsystemd-dev, then npm ci';
  }
})();

/** Runs `script` in a fresh node with the compiled notify module as `notify`; resolves with its stdout. */
function runFixture(script: string, env: NodeJS.ProcessEnv): Promise<{ pid: number; out: string }> {
  const code = `const notify = require(${JSON.stringify(notifyModule)});
const log = { warn: (o, m) => process.stderr.write(m + JSON.stringify(o) + '\\n'), info() {} };
${script}`;
  const child = spawn(process.execPath, ['-e', code], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('exit', (codeNum) => (codeNum === 0 ? res({ pid: child.pid!, out }) : rej(new Error(`fixture exited ${codeNum}`))));
  });
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  return { ...env, ...extra };
}

test('READY, STATUS and STOPPING reach NOTIFY_SOCKET from the daemon process itself', { skip: NO_ADDON }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trl-notify-'));
  const listener = await NotifyListener.start(dir);
  try {
    const { pid } = await runFixture(
      `const n = notify.createNotifier(log);
n.ready('serving'); n.status('2 sessions, 1 running'); n.status('bad\\nREADY=1'); n.stopping(); n.close();`,
      baseEnv({ NOTIFY_SOCKET: listener.path }),
    );
    await listener.until(() => listener.got.length >= 4);
    assert.deepEqual(listener.got.map((d) => d.data), [
      'READY=1\nSTATUS=serving',
      'STATUS=2 sessions, 1 running',
      'STATUS=bad READY=1',
      'STOPPING=1',
    ]);
    for (const d of listener.got) assert.equal(d.pid, pid, 'sent from the main pid, as NotifyAccess=main requires');
  } finally {
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('WATCHDOG=1 every half interval; none when WATCHDOG_PID names another process', { skip: NO_ADDON }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trl-notify-'));
  const listener = await NotifyListener.start(dir);
  try {
    const hold = `const n = notify.createNotifier(log); process.stdout.write(String(n.watchdogUsec)); setTimeout(() => n.close(), 520);`;
    const on = await runFixture(hold, baseEnv({ NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '200000' }));
    assert.equal(on.out, '200000');
    const pings = listener.got.filter((d) => d.data === 'WATCHDOG=1');
    assert.ok(pings.length >= 4 && pings.length <= 6, `5 pings at 100 ms in 520 ms, got ${pings.length}`);
    for (const d of pings) assert.equal(d.pid, on.pid);

    listener.got.length = 0;
    const off = await runFixture(hold, baseEnv({ NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' }));
    assert.equal(off.out, '0');
    assert.equal(listener.got.length, 0);
  } finally {
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without NOTIFY_SOCKET the notifier is a no-op and the native addon is never loaded', async () => {
  const { out } = await runFixture(
    `const n = notify.createNotifier(log); n.ready('x'); n.status('y'); n.stopping(); n.close();
process.stdout.write(JSON.stringify({ usec: n.watchdogUsec, loaded: Object.keys(require.cache).some((k) => k.includes('sd-notify')) }));`,
    baseEnv({ WATCHDOG_USEC: '1000000' }),
  );
  assert.deepEqual(JSON.parse(out), { usec: 0, loaded: false });
});

test('trld says READY=1 only once its socket answers, and STOPPING=1 on SIGTERM', { skip: NO_ADDON || (!existsSync(DAEMON_ENTRY) && 'dist/src/main.js not built') }, async () => {
  const dir = makePrivateDir('trl-notify-');
  const listener = await NotifyListener.start(dir);
  const { child: daemon, dir: daemonDir, socketPath: sock } = launch({
    env: { NOTIFY_SOCKET: listener.path, TRL_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
    dirPrefix: 'trl-notify-',
  });
  try {
    await listener.until(() => listener.got.some((d) => d.data.startsWith('READY=1')), 10_000);
    const ready = listener.got.find((d) => d.data.startsWith('READY=1'))!;
    assert.equal(ready.pid, daemon.pid);
    assert.match(ready.data, /\nSTATUS=./, 'READY carries a status line');
    const [answer] = await RawWire.exchange(sock, '{"id":"r","method":"system.ping","params":{}}\n', 1);
    assert.equal((JSON.parse(answer) as { ok: boolean }).ok, true);
    daemon.kill('SIGTERM');
    await listener.until(() => listener.got.some((d) => d.data.includes('STOPPING=1')));
    assert.equal(listener.got.find((d) => d.data.includes('STOPPING=1'))!.pid, daemon.pid);
  } finally {
    daemon.kill('SIGKILL');
    listener.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(daemonDir, { recursive: true, force: true });
  }
});
