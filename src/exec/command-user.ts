import { readFileSync } from 'node:fs';
import type { CommandUser } from './spawn';

/** Thrown when TRL_COMMAND_USER names no usable user; the daemon refuses to start. */
export class CommandUserError extends Error {}

/**
 * The user commands run as, from the local account files (the user's primary
 * group and every group listing it). Read once at start-up. Local files only:
 * a deployment that separates the daemon from its commands creates that user
 * locally (the package's sysusers file does so for `trl`).
 */
export function resolveCommandUser(name: string, daemonUid: number, files = { passwd: '/etc/passwd', group: '/etc/group' }): CommandUser {
  const entry = readFileSync(files.passwd, 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name);
  if (!entry || entry.length < 4) throw new CommandUserError(`TRL_COMMAND_USER=${name}: no such user in ${files.passwd}; create it (e.g. useradd --system ${name}) or unset the setting`);
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  if (uid === 0) throw new CommandUserError(`TRL_COMMAND_USER=${name}: that is root; commands must run as an unprivileged user`);
  if (uid === daemonUid) throw new CommandUserError(`TRL_COMMAND_USER=${name}: that is the daemon's own user; unset the setting, or run the daemon as another user`);
  const groups = new Set([gid]);
  for (const line of readFileSync(files.group, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f.length >= 4 && f[3]!.split(',').includes(name)) groups.add(Number(f[2]));
  }
  return { name, uid, gid, groups: [...groups].filter(Number.isInteger) };
}
