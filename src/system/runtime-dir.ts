import { lstatSync, mkdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/** Where the orphan ledger lives: TRL_RUNTIME_DIR, systemd's RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR/trl, else /tmp/trl-<uid>. */
export function runtimeDir(configured: string | undefined, env: NodeJS.ProcessEnv, uid: number): string {
  if (configured) return configured;
  const systemd = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (systemd) return systemd;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'trl');
  return `/tmp/trl-${uid}`;
}

/** A path the daemon would trust is not safe to trust; the message names it and says what to do. */
export class UnsafePathError extends Error {}

const FIX = 'remove it (as its owner or root) or set TRL_RUNTIME_DIR to a directory only the daemon\'s user can write (mode 0700)';

/**
 * Makes sure `dir` is a directory that only `uid` can change, creating it
 * (mode 0700) when absent: the directory itself is no symlink, is owned by
 * `uid` and is not group- or world-writable; every directory above it is
 * owned by root or `uid` and, when others may write it, sticky (like /tmp),
 * so nobody else can rename it away and put another in its place. Whatever
 * the daemon reads from or writes to such a directory (the ledger, its temp
 * files) cannot have been planted or swapped by another user.
 * Throws UnsafePathError otherwise.
 */
export function ensurePrivateDir(dir: string, uid: number): string {
  const path = resolve(dir);
  checkAncestors(dirname(path), uid);
  let st = lstatOrNull(path);
  if (st === null) {
    try {
      mkdirSync(path, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new UnsafePathError(`runtime directory ${path} cannot be created (${(err as NodeJS.ErrnoException).code ?? String(err)}); create it (mode 0700, owned by uid ${uid}) or set TRL_RUNTIME_DIR`);
    }
    // Directories created just now above `path` are checked too.
    checkAncestors(dirname(path), uid);
    st = lstatSync(path);
  }
  checkOwn(path, st, uid);
  return path;
}

/** The directory itself: a real directory of ours that no one else may write. */
function checkOwn(path: string, st: Stats, uid: number): void {
  if (st.isSymbolicLink()) throw new UnsafePathError(`runtime directory ${path} is a symbolic link (owner uid ${st.uid}); refusing to follow it: ${FIX}`);
  if (!st.isDirectory()) throw new UnsafePathError(`runtime directory ${path} is not a directory; ${FIX}`);
  if (st.uid !== uid) {
    throw new UnsafePathError(`runtime directory ${path} is owned by uid ${st.uid}, not by the daemon's user (uid ${uid}): another user may have made it; ${FIX}`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafePathError(`runtime directory ${path} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)}); run chmod 700 ${path}`);
  }
}

/**
 * Every directory above: symlinks in the given path must be root's or ours,
 * and every directory of the resolved path root's or ours, not writable by
 * others unless sticky.
 */
function checkAncestors(parent: string, uid: number): void {
  for (let p = parent; ; p = dirname(p)) {
    const st = lstatOrNull(p);
    if (st?.isSymbolicLink() && st.uid !== 0 && st.uid !== uid) {
      throw new UnsafePathError(`${p}, above the runtime directory, is a symbolic link owned by uid ${st.uid}; ${FIX}`);
    }
    if (p === dirname(p)) break;
  }
  let real: string;
  try {
    real = realpathSync(parent);
  } catch {
    return; // not there yet: mkdir creates it, and the second look checks it
  }
  const parts = real.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = sep + parts.slice(0, i).join(sep);
    const st = statSync(p);
    if (st.uid !== 0 && st.uid !== uid) {
      throw new UnsafePathError(`${p}, above the runtime directory, is owned by uid ${st.uid} (neither root nor the daemon's user); ${FIX}`);
    }
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
      throw new UnsafePathError(`${p}, above the runtime directory, is writable by others and not sticky (mode ${(st.mode & 0o7777).toString(8)}); ${FIX}`);
    }
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}
