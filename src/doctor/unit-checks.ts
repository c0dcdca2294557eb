import type { DoctorContext } from './context';
import { fail, na, pass, type Check } from './result';

const noUnit = (id: string, title: string) => na(id, title, 'no systemd unit installed (trl.service)');

/** READY/STATUS/WATCHDOG only from trld itself: commands in its cgroup must not speak for it. */
export const unitNotifyAccess: Check<DoctorContext> = (ctx) => {
  const id = 'unit_notify_access';
  const title = 'unit: NotifyAccess=main';
  if (!ctx.unit) return noUnit(id, title);
  const v = ctx.unit.get('Service.NotifyAccess');
  if (ctx.unit.get('Service.Type') === 'notify' && v !== 'main') {
    return fail(id, title, `${ctx.unit.path}: NotifyAccess=${v ?? '(unset)'}${v === 'all' ? ': any command can send READY/STOPPING/WATCHDOG for the service' : ''}`, 'set NotifyAccess=main in the unit');
  }
  if (v !== undefined && v !== 'main' && v !== 'none') return fail(id, title, `${ctx.unit.path}: NotifyAccess=${v}`, 'set NotifyAccess=main in the unit');
  return pass(id, title, `${ctx.unit.path}: NotifyAccess=${v ?? 'none'}`);
};

/** Files the daemon (and its commands, by default) create are private. */
export const unitUmask: Check<DoctorContext> = (ctx) => {
  const id = 'unit_umask';
  const title = 'unit: UMask=0077';
  if (!ctx.unit) return noUnit(id, title);
  const v = ctx.unit.get('Service.UMask');
  const m = v === undefined ? 0o022 : Number.parseInt(v, 8);
  if ((m & 0o077) !== 0o077) return fail(id, title, `${ctx.unit.path}: UMask=${v ?? '(unset, systemd uses 0022)'}: files it creates are readable by others`, 'set UMask=0077 in the unit');
  return pass(id, title, `${ctx.unit.path}: UMask=${v}`);
};

const HARDENING: [string, (v: string | undefined) => boolean, string][] = [
  ['NoNewPrivileges', (v) => v === 'yes' || v === 'true', 'NoNewPrivileges=yes'],
  ['ProtectSystem', (v) => v === 'strict' || v === 'full' || v === 'yes' || v === 'true', 'ProtectSystem=strict'],
  ['PrivateTmp', (v) => v === 'yes' || v === 'true', 'PrivateTmp=yes'],
  ['ProtectHome', (v) => v !== undefined && v !== 'no' && v !== 'false', 'ProtectHome=yes'],
  ['CapabilityBoundingSet', () => true, 'CapabilityBoundingSet= (empty)'],
  ['RestrictSUIDSGID', (v) => v === 'yes' || v === 'true', 'RestrictSUIDSGID=yes'],
  ['ProtectKernelModules', (v) => v === 'yes' || v === 'true', 'ProtectKernelModules=yes'],
  // A core dump of trld would hold every session's secrets.
  ['LimitCORE', (v) => v === '0', 'LimitCORE=0'],
];

/** The sandbox settings the package ships. */
export const unitHardening: Check<DoctorContext> = (ctx) => {
  const id = 'unit_hardening';
  const title = 'unit: hardening (NoNewPrivileges, ProtectSystem, PrivateTmp, …)';
  if (!ctx.unit) return noUnit(id, title);
  const missing: string[] = [];
  for (const [key, ok, want] of HARDENING) {
    if (key === 'CapabilityBoundingSet') {
      // unset means every capability; the package assigns it empty (no capability at all)
      if (!(ctx.unit.has(`Service.${key}`) && ctx.unit.all(`Service.${key}`).length === 0)) missing.push(want);
      continue;
    }
    if (!ok(ctx.unit.get(`Service.${key}`))) missing.push(want);
  }
  if (missing.length) return fail(id, title, `${ctx.unit.path} lacks ${missing.join(', ')}`, `add ${missing.join(' ')} (systemctl edit trl.service); see systemd/trl.service in the source for the shipped set`);
  return pass(id, title, `${ctx.unit.path}: ${HARDENING.map((h) => h[2]).join(', ')}`);
};

/** The running daemon answers system.stats on the socket. */
export const daemon: Check<DoctorContext> = (ctx) => {
  const id = 'daemon';
  const title = 'the daemon answers on the socket';
  if (!ctx.socket) return na(id, title, 'no socket configured');
  if (!ctx.daemon) {
    if (ctx.socketUnits.length || ctx.unit) return fail(id, title, `nothing at ${ctx.socket.path}`, 'systemctl enable --now trl.socket');
    return na(id, title, `no socket at ${ctx.socket.path}: not running`);
  }
  if (!ctx.daemon.ok) {
    const denied = ctx.daemon.error === 'EACCES';
    return denied
      ? na(id, title, `${ctx.socket.path}: permission denied (EACCES) for this user`, 'run trl doctor as root or as the runtime user')
      : fail(id, title, `${ctx.socket.path}: ${ctx.daemon.error}`, 'systemctl status trl.service trl.socket; journalctl -u trl.service');
  }
  const s = ctx.daemon.stats;
  return pass(id, title, `version ${String(s.version ?? '?')}, ${String(s.active_sessions)} sessions, ${String(s.running_commands ?? 0)} running, up ${String(s.uptime_s)} s`);
};
