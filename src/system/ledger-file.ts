import { closeSync, constants, fstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as z from '../protocol/schema';
import type { ReportLogger } from './logger';
import { readWhole } from './read-fd';
import { UnsafePathError } from './runtime-dir';

/** Start times are clock ticks since boot: decimal digits, as /proc prints them. */
const StartTime = z.string().regex(/^[0-9]{1,20}$/);
const Pid = z.number().int().min(2).max(2 ** 22);
const Id = z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/);

/** One process group the daemon started. Never env values or command text. */
const LedgerEntrySchema = z.strictObject({
  pgid: Pid,
  pid: Pid,
  /** Field 22 of /proc/<pid>/stat: with the pid it names one process for good. */
  startTime: StartTime,
  sessionId: Id,
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

const OwnerSchema = z.strictObject({ pid: z.number().int().min(0).max(2 ** 22), startTime: z.union([StartTime, z.literal('')]) });

/** The file's shape. `owner` is the daemon that writes it; `bootId` dates the start times; `sessions` are live sessions' markers. */
export interface LedgerFile {
  v: 1;
  bootId: string;
  owner: z.infer<typeof OwnerSchema>;
  entries: LedgerEntry[];
  sessions: string[];
}

/** A ledger larger than this is not one we wrote (a million entries is ~80 MiB). */
const MAX_BYTES = 64 * 1024 * 1024;
/** Malformed entries are logged one by one up to this many, then counted. */
const LOGGED_BAD = 5;

/**
 * Reads the ledger without following a symlink, and only if it is a regular
 * file of `uid`, not writable by group or others: anything else was not
 * written by this daemon's user and is refused (UnsafePathError). null when
 * there is no file or it is not JSON. Every field is checked as strictly as
 * a request; a malformed entry is skipped and logged by its keys only.
 */
export function readLedgerFile(path: string, uid: number, logger: ReportLogger): LedgerFile | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new UnsafePathError(`orphan ledger ${path} is a symbolic link; refusing to follow it: remove it`);
    throw new UnsafePathError(`orphan ledger ${path} cannot be opened (${code}); remove it or fix its permissions`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnsafePathError(`orphan ledger ${path} is not a regular file; remove it`);
    if (st.uid !== uid) throw new UnsafePathError(`orphan ledger ${path} is owned by uid ${st.uid}, not by the daemon's user (uid ${uid}): it was planted; remove it`);
    if ((st.mode & 0o022) !== 0) throw new UnsafePathError(`orphan ledger ${path} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); remove it`);
    if (st.size > MAX_BYTES) {
      logger.warn({ path, bytes: st.size }, 'orphan ledger too large to be ours: ignored');
      return null;
    }
    text = readWhole(fd, st.size).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    logger.warn({ path, err: String(err) }, 'orphan ledger unreadable: ignored');
    return null;
  }
  return validate(data, path, logger);
}

function validate(data: unknown, path: string, logger: ReportLogger): LedgerFile | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    logger.warn({ path }, 'orphan ledger is not an object: ignored');
    return null;
  }
  const r = data as Record<string, unknown>;
  const owner = OwnerSchema.safeParse(r.owner);
  const bootId = z.string().max(64).safeParse(r.bootId);
  const entries: LedgerEntry[] = [];
  let bad = 0;
  for (const [index, e] of (Array.isArray(r.entries) ? r.entries : []).entries()) {
    const parsed = LedgerEntrySchema.safeParse(e);
    if (parsed.success) entries.push(parsed.data);
    else if (++bad <= LOGGED_BAD) {
      const keys = typeof e === 'object' && e !== null ? Object.keys(e).slice(0, 10) : [typeof e];
      logger.warn({ path, index, keys, problem: parsed.error.issues[0]?.path.join('.') }, 'orphan ledger entry malformed: skipped');
    }
  }
  const sessions: string[] = [];
  for (const s of Array.isArray(r.sessions) ? r.sessions : []) {
    if (Id.safeParse(s).success) sessions.push(s as string);
    else bad++;
  }
  if (bad > 0) logger.warn({ path, skipped: bad, kept: entries.length + sessions.length }, 'orphan ledger: malformed entries skipped');
  if (!owner.success || !bootId.success) logger.warn({ path, keys: Object.keys(r).slice(0, 10) }, 'orphan ledger header malformed: owner or boot id unknown');
  return {
    v: 1,
    bootId: bootId.success ? bootId.data : '',
    owner: owner.success ? owner.data : { pid: 0, startTime: '' },
    entries,
    sessions,
  };
}

/** Ledger writes so far: part of each temp file's name. */
let writes = 0;

/**
 * Writes the ledger atomically: a fresh temp file (O_EXCL | O_NOFOLLOW, mode
 * 0600, a name no other write uses: pid, count, time) in the same private
 * directory, then rename over the old one, so a reader never sees half a
 * ledger and nothing planted is followed. The name needs no secrecy: the
 * directory is the daemon's, and O_EXCL refuses whatever is already there.
 */
export function writeLedgerFile(path: string, data: LedgerFile): void {
  const tmp = join(dirname(path), `.orphans.${process.pid}.${++writes}.${Date.now().toString(36)}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeSync(fd, JSON.stringify(data));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already renamed or gone */
    }
    throw err;
  }
}
