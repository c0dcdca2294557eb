import { dirname, posix } from 'node:path';

/**
 * Pure parsing for cgroup v2 discovery: where the daemon's own cgroup lives
 * in the filesystem. Kept free of I/O so it can be unit-tested on any host.
 */

/** A mounted cgroup2 filesystem: the directory it is mounted on and the cgroup path it shows there. */
export interface Cgroup2Mount {
  mountPoint: string;
  /** The cgroup (inside the hierarchy) that appears at mountPoint: "/" for a full mount. */
  root: string;
}

/**
 * The v2 path from /proc/<pid>/cgroup: the `0::/path` line (v1 lines name a
 * controller list between the colons). null when there is no v2 entry or the
 * path lies outside our cgroup namespace (`/..`).
 */
export function parseProcCgroup(text: string): string | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith('0::')) continue;
    let path = line.slice(3).trim();
    if (path.endsWith(' (deleted)')) path = path.slice(0, -' (deleted)'.length);
    if (!path.startsWith('/')) return null;
    if (path.split('/').includes('..')) return null;
    return path;
  }
  return null;
}

/** `\040` and friends: mountinfo escapes space, tab, newline and backslash in octal. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Every cgroup2 mount in /proc/<pid>/mountinfo. Format per line:
 * `id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions`.
 */
export function parseCgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  const mounts: Cgroup2Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const fields = line.slice(0, sep).split(' ');
    if (fields.length < 5) continue;
    mounts.push({ root: unescapeMountField(fields[3]!), mountPoint: unescapeMountField(fields[4]!) });
  }
  return mounts;
}

/**
 * The directory of cgroup `path` given the cgroup2 mounts: the mount whose
 * root is the longest prefix of the path (a full mount has root "/"), ties
 * broken by the shortest mount point (/sys/fs/cgroup before a bind mount
 * somewhere deeper). null when no mount shows that cgroup.
 */
export function resolveCgroupDir(path: string, mounts: Cgroup2Mount[]): string | null {
  let best: { root: string; mountPoint: string } | null = null;
  for (const m of mounts) {
    const root = m.root.replace(/\/+$/, ''); // "/" becomes ""
    if (path !== root && !path.startsWith(root + '/')) continue;
    const better =
      !best || root.length > best.root.length || (root.length === best.root.length && m.mountPoint.length < best.mountPoint.length);
    if (better) best = { root, mountPoint: m.mountPoint };
  }
  if (!best) return null;
  const rest = path.slice(best.root.length);
  const dir = posix.normalize(posix.join(best.mountPoint, rest || '/'));
  return dir.length > 1 ? dir.replace(/\/$/, '') : dir;
}

/** Parses `key value` lines (cgroup.events, memory.events, cpu.stat) into numbers. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined) continue;
    const n = Number(value);
    if (Number.isFinite(n)) out.set(key, n);
  }
  return out;
}

/** The controllers listed in cgroup.controllers / cgroup.subtree_control. */
export const parseControllerList = (text: string): string[] => text.split(/\s+/).filter((s) => s.length > 0);

/**
 * Names we create as cgroup directories (session ids, exec ids): one path
 * component, no dot files, nothing that could be mistaken for an interface
 * file (those all contain a dot after a controller name, e.g. `memory.max`,
 * so a leading letter/digit and no `/` is enough together with EEXIST).
 */
export const isSafeCgroupName = (name: string): boolean => /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(name);

/** The parent of a cgroup directory (string-level, no I/O). */
export const parentDir = (dir: string): string => dirname(dir);
