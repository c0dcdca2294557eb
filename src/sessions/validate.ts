// fs.promises is read at call time: node:fs/promises (and readline, which it loads) stay out of the start-up (system/lazy-builtins.ts).
import { constants, promises as fsp } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ErrorCode, TrlError } from '../protocol/errors';

const invalid = (message: string) => new TrlError(ErrorCode.INVALID_PARAMS, message);

/** Resolves `shell` (an absolute path, or a name looked up in PATH) to an executable file, or says why not. */
export async function resolveShell(shell: string, path: string | undefined): Promise<string> {
  if (isAbsolute(shell)) {
    await checkExecutable(shell);
    return shell;
  }
  if (shell.includes('/')) throw invalid(`shell ${shell} must be an absolute path or a command name found in PATH`);
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, shell);
    if (await isExecutableFile(candidate)) return candidate;
  }
  throw invalid(`shell ${shell} was not found in the daemon's PATH; give an absolute path such as /bin/sh`);
}

async function checkExecutable(file: string): Promise<void> {
  const st = await fsp.stat(file).catch(() => null);
  if (!st) throw invalid(`shell ${file} does not exist; give an installed shell such as /bin/sh`);
  if (!st.isFile()) throw invalid(`shell ${file} is not a file`);
  const ok = await fsp.access(file, constants.X_OK).then(() => true, () => false);
  if (!ok) throw invalid(`shell ${file} is not executable by the daemon's user`);
}

const isExecutableFile = (file: string): Promise<boolean> =>
  fsp.stat(file).then(
    (st) => st.isFile() && fsp.access(file, constants.X_OK).then(() => true, () => false),
    () => false,
  );

/** Checks that `dir` is an absolute path to a directory the daemon's user can enter. */
export async function checkWorkingDir(dir: string): Promise<string> {
  if (!isAbsolute(dir)) throw invalid(`working_dir ${dir} must be an absolute path`);
  const st = await fsp.stat(dir).catch(() => null);
  if (!st) throw invalid(`working_dir ${dir} does not exist; create it first or choose another directory`);
  if (!st.isDirectory()) throw invalid(`working_dir ${dir} is not a directory`);
  const ok = await fsp.access(dir, constants.X_OK).then(() => true, () => false);
  if (!ok) throw invalid(`working_dir ${dir} cannot be entered by the daemon's user (permission denied)`);
  return dir;
}
