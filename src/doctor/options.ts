import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DoctorOptions } from './context';
import { findInstalledUnit } from './unit';

/** What `trl doctor --help` prints, and what follows a usage error. */
export const USAGE = `Usage: trl doctor [--json] [--unit PATH|none] [--socket-unit PATH]... [--trl-env PATH|none]
                  [--socket PATH|none] [--runtime-path PATH]... [--runtime-user NAME]
       trl doctor --user [--json] ...

Checks this host against trl's deployment checklist (docs/doctor.md): each
line PASS, FAIL or N/A, with the fix for a failure. Exit status 1 when any
check fails, 0 otherwise, 2 on a usage error. Run it as root for a complete
check (the env file and the daemon's socket are private).

  --json               one JSON object: {"ok", "checks": [{id, title, status, detail, fix}], "summary"}
  --unit PATH          trl.service (default: the installed one, /etc/systemd/system, /run, /usr/lib, /lib); none: no systemd
  --socket-unit PATH   a socket unit of the service (default: trl.socket and trl-http.socket beside the unit)
  --trl-env PATH       the env file (not --env-file: Node 20 takes that flag for itself) (default: the unit's Environment=TRL_ENV_FILE=PATH or LoadCredential=trl.env:PATH, else TRL_ENV_FILE, else /etc/trl/trl.env)
  --socket PATH        the agents' socket (default: the socket unit's ListenStream=, else TRL_SOCKET_PATH, else /run/trl/trl.sock or /tmp/trl.sock)
  --runtime-path PATH  a file or directory of the runtime to check for world-writable files (default: the unit's ExecStart= program, its directory and interpreter)
  --runtime-user NAME  the runtime user (default: the unit's User=, else the running daemon's); --user NAME says the same
  --user               check your own (user) instance instead: the user units (systemctl --user), the socket
                       $XDG_RUNTIME_DIR/trl/trl.sock, the env file $XDG_CONFIG_HOME/trl/trl.env; run it as that user
`;

/** The command line was wrong: doctor prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

/**
 * `--user` alone (or before another option) selects the user instance, as
 * with systemctl; `--user NAME` and `--user=NAME` keep naming the runtime user.
 */
function splitUserFlag(argv: string[]): { args: string[]; userInstance: boolean } {
  const args: string[] = [];
  let userInstance = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--user' && (i + 1 >= argv.length || argv[i + 1]!.startsWith('-'))) userInstance = true;
    else if (a === '--user') args.push('--runtime-user', argv[++i]!);
    else if (a.startsWith('--user=')) args.push(`--runtime-user=${a.slice('--user='.length)}`);
    else args.push(a);
  }
  return { args, userInstance };
}

/** What to check and how to report it; `userInstance`: the user's own instance (--user) instead of the system service. */
export type DoctorArgs = DoctorOptions & { userInstance: boolean };

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): DoctorArgs | 'help' {
  const { args, userInstance } = splitUserFlag(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      strict: true,
      options: {
        json: { type: 'boolean' },
        unit: { type: 'string' },
        'socket-unit': { type: 'string', multiple: true },
        'trl-env': { type: 'string' },
        socket: { type: 'string' },
        'runtime-path': { type: 'string', multiple: true },
        'runtime-user': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (userInstance) {
    // The user units are found by gatherUser; flags still override each path.
    const unitFlag = v.unit === 'none' ? null : (v.unit ?? null);
    return { json: v.json ?? false, unit: unitFlag, socketUnits: v['socket-unit'] ?? [], envFile: v['trl-env'] ?? null, socket: v.socket ?? null, runtimePaths: v['runtime-path'] ?? [], user: null, env, userInstance };
  }
  const unit = v.unit === 'none' ? null : (v.unit ?? findInstalledUnit('trl.service'));
  let socketUnits = v['socket-unit'] ?? null;
  if (socketUnits === null) {
    socketUnits = [];
    if (unit) {
      for (const name of ['trl.socket', 'trl-http.socket']) {
        const beside = join(dirname(unit), name);
        const installed = existsSync(beside) ? beside : v.unit === undefined ? findInstalledUnit(name) : null;
        if (installed) socketUnits.push(installed);
      }
    }
  }
  return {
    json: v.json ?? false,
    unit,
    socketUnits,
    envFile: v['trl-env'] ?? null,
    socket: v.socket ?? null,
    runtimePaths: v['runtime-path'] ?? [],
    user: v['runtime-user'] ?? null,
    env,
    userInstance,
  };
}
