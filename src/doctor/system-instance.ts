import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { gatherContext, statFile, type DoctorContext, type DoctorOptions } from './context';
import { readEnvFile } from './env-file';
import { isHttpSocketUnit, UnitFile } from './unit';

/** `trl doctor`: the system service, from the units and paths in `opts`. */
export async function gather(opts: DoctorOptions): Promise<DoctorContext> {
  const unit = opts.unit ? UnitFile.load(opts.unit) : null;
  const socketUnits = opts.socketUnits.map((p) => UnitFile.load(p)).filter((u): u is UnitFile => u !== null);
  return gatherContext(opts, {
    unit,
    socketUnits,
    envFile: readEnvFile(opts, unit),
    socket: (settings) => socketPath(opts, socketUnits, settings),
    runtimeUser: (daemon, socket) => runtimeUser(opts, unit, daemon, socket),
  });
}

/** The socket: --socket, else the socket unit's ListenStream= path, else TRL_SOCKET_PATH (env file, environment), else the client's default. */
function socketPath(opts: DoctorOptions, socketUnits: UnitFile[], settings: Record<string, string>): DoctorContext['socket'] {
  if (opts.socket === 'none') return null;
  let path = opts.socket;
  let source = '--socket';
  if (path === null) {
    for (const u of socketUnits) {
      if (isHttpSocketUnit(u)) continue;
      const p = u.all('Socket.ListenStream').find((v) => v.startsWith('/'));
      if (p) {
        path = p;
        source = `ListenStream= of ${u.path}`;
        break;
      }
    }
  }
  if (path === null && (settings.TRL_SOCKET_PATH || opts.env.TRL_SOCKET_PATH)) {
    path = settings.TRL_SOCKET_PATH ?? opts.env.TRL_SOCKET_PATH!;
    source = 'TRL_SOCKET_PATH';
  }
  if (path === null) {
    path = existsSync('/run/trl/trl.sock') ? '/run/trl/trl.sock' : '/tmp/trl.sock';
    source = 'default';
  }
  return { ...statFile(path), source };
}

/** Who the runtime runs as: --user, else the unit's User= (root when unset), else the running daemon, else the socket's owner. */
function runtimeUser(opts: DoctorOptions, unit: UnitFile | null, daemon: DoctorContext['daemon'], socket: DoctorContext['socket']): DoctorContext['runtimeUser'] {
  if (opts.user) return { name: opts.user, uid: uidOf(opts.user), source: '--user' };
  if (unit) {
    const name = unit.get('Service.User') ?? 'root';
    return { name, uid: /^\d+$/.test(name) ? Number(name) : uidOf(name), source: unit.get('Service.User') ? `User= of ${unit.path}` : `${unit.path} sets no User=` };
  }
  if (daemon?.ok && daemon.pids.length) return { name: null, uid: daemon.pids[0]!.uid, source: `the running daemon (pid ${daemon.pids[0]!.pid})` };
  if (socket?.stat) return { name: null, uid: socket.stat.uid, source: `the owner of ${socket.path}` };
  return null;
}

function uidOf(name: string): number | null {
  if (name === 'root') return 0;
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const uid = Number(r.stdout.trim());
  return r.status === 0 && Number.isInteger(uid) ? uid : null;
}
