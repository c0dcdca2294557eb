import type { Stats } from 'node:fs';
import { lstatSync } from 'node:fs';

export type Status = 'pass' | 'fail' | 'n/a';

/** One line of the report. `fix` says what to do when it failed (or why it could not be checked). */
export interface CheckResult {
  id: string;
  title: string;
  status: Status;
  detail: string;
  fix?: string;
}

export const pass = (id: string, title: string, detail: string): CheckResult => ({ id, title, status: 'pass', detail });
export const fail = (id: string, title: string, detail: string, fix: string): CheckResult => ({ id, title, status: 'fail', detail, fix });
export const na = (id: string, title: string, detail: string, fix?: string): CheckResult => ({ id, title, status: 'n/a', detail, ...(fix ? { fix } : {}) });

/** A file mode as the fixes write it: 0600. */
export const mode = (m: number): string => (m & 0o7777).toString(8).padStart(4, '0');

/** Whether a path's mode lets everyone write. */
export function worldWritable(st: Stats): boolean {
  return !st.isSymbolicLink() && (st.mode & 0o002) !== 0;
}

/** lstat, or null when the path cannot be examined (the check then says what is missing). */
export function safeStat(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** A check is a pure function of what doctor gathered about one instance. */
export type Check<Context> = (ctx: Context) => CheckResult;
