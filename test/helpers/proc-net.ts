import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The inodes of the sockets `pid` holds open. */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The TCP sockets `pid` holds, from its network namespace's tables: local port and state (0A = LISTEN). */
function tcpSocketsOf(pid: number): { port: number; state: string }[] {
  const inodes = socketInodes(pid);
  const out: { port: number; state: string }[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      out.push({ port: parseInt(f[1]!.split(':')[1]!, 16), state: f[3]! });
    }
  }
  return out;
}

/** The TCP ports `pid` is listening on: the daemon's own listeners, nobody else's. */
export function listeningTcpPorts(pid: number): number[] {
  return tcpSocketsOf(pid)
    .filter((s) => s.state === '0A')
    .map((s) => s.port);
}

/** How many open TCP connections (any state but LISTEN) `pid` holds on its local `port`. */
export function tcpConnectionsOn(pid: number, port: number): number {
  return tcpSocketsOf(pid).filter((s) => s.state !== '0A' && s.port === port).length;
}
