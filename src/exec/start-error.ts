// fs.promises is read at call time: node:fs/promises stays out of the start-up (system/lazy-builtins.ts).
import { promises as fsp } from 'node:fs';
import { ExecError } from './errors';

/** Why the command's shell could not be started, named for the user, with what to do. */
export async function startError(err: NodeJS.ErrnoException, shell: string, cwd: string): Promise<ExecError> {
  const code = err.code ?? 'unknown error';
  if (code === 'EAGAIN' || code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM') {
    return new ExecError('out_of_resources', `cannot start the command: the system is out of processes, memory or file descriptors (${code}); retry later`);
  }
  if (code === 'ENOSPC') {
    // Only opening a terminal's master fails so: the kernel's pseudo-terminals (kernel.pty.max) are all in use.
    return new ExecError('out_of_resources', 'cannot start the command: the system has no pseudo-terminal left (ENOSPC, kernel.pty.max); retry later or run it without pty');
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const cwdOk = await fsp.stat(cwd).then((s) => s.isDirectory(), () => false);
    if (!cwdOk) {
      return new ExecError('cannot_start', `working directory ${cwd} no longer exists; the session cannot run commands there (destroy it and create a new one)`);
    }
    return new ExecError('cannot_start', `shell ${shell} no longer exists; create a session with an existing shell`);
  }
  if (code === 'EACCES') {
    return new ExecError('cannot_start', `shell ${shell} or working directory ${cwd} is not accessible to the daemon's user (EACCES)`);
  }
  return new ExecError('cannot_start', `cannot start ${shell}: ${code}`);
}
