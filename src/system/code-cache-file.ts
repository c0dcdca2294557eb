import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import type { CodeCacheReport } from './code-cache-report';
import { readWhole } from './read-fd';

/** Where the package's postinst stores the caches; TRL_CODE_CACHE_DIR names another directory, empty turns them off. */
const DEFAULT_CACHE_DIR = '/var/cache/trl';
const MAGIC = 'trl-code-cache 1\n';
/** A cache this large was not made by us (the bundle's is under 2 MiB). */
const MAX_BYTES = 64 * 1024 * 1024;

/** What a cache was made for: V8 checks its own version and flags, but matches a source by its length only. */
export interface CacheHeader {
  build: string;
  node: string;
  arch: string;
}

export const headerFor = (build: string): CacheHeader => ({ build, node: process.version, arch: process.arch });

/** The cache file `name` (trld.cache, trl.cache): '' when turned off, relative when the setting is (findCodeCache refuses it). */
export function cachePath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.TRL_CODE_CACHE_DIR ?? DEFAULT_CACHE_DIR;
  return dir === '' ? '' : `${dir.replace(/\/+$/, '')}/${name}`;
}

/** The first line of a bundle that can have a cache (trld-main.js, trl-main.js), written by packaging/bundle.mjs: a hash of the rest, naming this build. */
const BUILD_LINE = /^\/\/ trl-build ([0-9a-f]{64})\n/;

export const buildIdOf = (source: string): string => BUILD_LINE.exec(source)?.[1] ?? '';

/** A bundle's source as Node wraps a CommonJS module: the text a cache is made from and checked against. */
export const wrapModule = (source: string): string => `(function (exports, require, module, __filename, __dirname) {${source}\n})`;

export function encodeCache(header: CacheHeader, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${MAGIC}${JSON.stringify(header)}\n`), data]);
}

type CacheRead = { state: 'found'; made: Partial<CacheHeader>; data: Buffer } | { state: 'absent' } | { state: 'refused'; reason: string };

/** V8's verdict on a cache that passed every check here: the one reason only compiling can give. */
export const rejectedReason = (path: string): string => `V8 refused ${path}: it was made by another build of Node or with other flags`;

/**
 * The cache at `path` for the bundle at `bundle`, ready to compile with (its
 * source and V8's data), or why there is none to use. `path` '' means
 * turned off.
 */
export function findCodeCache(bundle: string, path: string): { source: string; data: Buffer } | CodeCacheReport {
  if (path === '') return { state: 'off', path };
  if (!isAbsolute(path)) return { state: 'refused', path, reason: 'TRL_CODE_CACHE_DIR must be an absolute path' };
  const found = readCodeCache(path);
  if (found.state === 'absent') return { state: 'absent', path };
  if (found.state === 'refused') return { state: 'refused', path, reason: found.reason };
  // The bundle is read only for a cache worth using: without one, Node reads it as it runs it.
  const source = readFileSync(bundle, 'utf8');
  const { made } = found;
  const want = headerFor(buildIdOf(source));
  if (made.build !== want.build) return { state: 'stale', path, reason: `${path} was made for another build of trld` };
  if (made.node !== want.node || made.arch !== want.arch) return { state: 'stale', path, reason: `${path} was made for Node ${made.node} (${made.arch}), this is ${want.node} (${want.arch})` };
  return { source, data: found.data };
}

/**
 * Reads a cache and what it was made for, trusting it only as far as the
 * code it speeds up: a V8 code cache is code, so it must be root's alone
 * like /usr/lib/trl. Every directory above it root's and writable by no one
 * else (unless sticky), no symlink on the way, the file a plain root file
 * mode ≤ 0644; anything else is refused with the reason, never read.
 */
function readCodeCache(path: string): CacheRead {
  const unsafe = unsafeDirs(path);
  if (unsafe) return { state: 'refused', reason: unsafe };
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'absent' };
    return { state: 'refused', reason: code === 'ELOOP' ? `${path} is a symbolic link: remove it` : `${path} cannot be opened (${code})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { state: 'refused', reason: `${path} is not a regular file: remove it` };
    if (st.uid !== 0) return { state: 'refused', reason: `${path} is owned by uid ${st.uid}, not root: remove it` };
    if ((st.mode & 0o022) !== 0) return { state: 'refused', reason: `${path} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}): remove it` };
    if (st.size > MAX_BYTES) return { state: 'refused', reason: `${path} is ${st.size} bytes, too large to be a cache of trld: remove it` };
    return parse(readWhole(fd, st.size), path);
  } finally {
    closeSync(fd);
  }
}

function parse(file: Buffer, path: string): CacheRead {
  const end = file.indexOf(10, MAGIC.length);
  if (!file.subarray(0, MAGIC.length).equals(Buffer.from(MAGIC)) || end < 0) return { state: 'refused', reason: `${path} is not a trld code cache: remove it` };
  let made: Partial<CacheHeader>;
  try {
    made = JSON.parse(file.toString('utf8', MAGIC.length, end)) as Partial<CacheHeader>;
  } catch {
    return { state: 'refused', reason: `${path} has a damaged header: remove it` };
  }
  return { state: 'found', made, data: file.subarray(end + 1) };
}

/** Why a directory above `path` could let someone other than root replace it, or null. */
function unsafeDirs(path: string): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let st;
    try {
      st = lstatSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // No directory, no cache: the open that follows says absent.
      if (code === 'ENOENT') return null;
      return `${dir} cannot be checked (${code})`;
    }
    if (st.isSymbolicLink()) return `${dir} is a symbolic link; the cache must sit under real directories`;
    if (!st.isDirectory()) return `${dir} is not a directory`;
    if (st.uid !== 0) return `${dir} is owned by uid ${st.uid}, not root`;
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return `${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
    if (dir === '/') return null;
  }
}
