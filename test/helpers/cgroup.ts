import { existsSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Kills and removes a cgroup tree bottom-up (cgroupfs files cannot be unlinked, only empty directories removed). */
export async function removeCgroupTree(d: string): Promise<void> {
  if (!existsSync(d)) return;
  for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) await removeCgroupTree(join(d, e.name));
  try {
    writeFileSync(join(d, 'cgroup.kill'), '1');
  } catch {
    /* no cgroup.kill */
  }
  // Killed members leave the cgroup a moment later: until then rmdir says EBUSY.
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(d);
      return;
    } catch {
      await sleep(20);
    }
  }
}

/**
 * A launch prefix: root moves the daemon's process into the cgroup `dir`,
 * then becomes `user` by exec (setpriv, not runuser: runuser forks and
 * waits, so a SIGKILL meant for the daemon would reach only runuser and
 * leave trld running).
 */
export function intoCgroupAs(dir: string, user: string): string[] {
  return ['/bin/sh', '-c', `echo $$ > '${dir}/cgroup.procs' && exec setpriv --reuid='${user}' --regid="$(id -g '${user}')" --init-groups -- "$@"`, 'sh'];
}
