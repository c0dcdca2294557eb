import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';

/** A listening Unix socket and how to take it down. */
export interface Listener {
  server: Server;
  /** Human-readable: the path, or `fd N (name)` for an activated socket. */
  where: string;
  /** Stops accepting; removes the socket file only if this process created it. */
  close(): void;
}

export class ListenError extends Error {}

type OnConnection = (socket: Socket) => void;

/** Listens on a socket systemd passed us. Never unlinks it: the socket unit owns the path. */
export function listenOnFd(fd: number, name: string, onConnection: OnConnection): Promise<Listener> {
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, onConnection);
  return listen(server, { fd }).then(() => ({
    server,
    where: `fd ${fd} (${name})`,
    close: () => server.close(),
  }));
}

/**
 * Binds `path` with mode 0600 from the first instant (umask 0177 around the
 * bind, not chmod afterwards). A stale socket of ours is replaced; anything
 * else at that path is refused.
 */
export async function listenOnPath(path: string, onConnection: OnConnection): Promise<Listener> {
  await clearStaleSocket(path);
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ListenError(`cannot create the socket directory ${dir}: ${(err as NodeJS.ErrnoException).code}; create it or choose another TRL_SOCKET_PATH`);
  }
  const server = createServer({ allowHalfOpen: true }, onConnection);
  const oldMask = process.umask(0o177);
  let bound: Promise<void>;
  try {
    // For a path the bind happens synchronously inside listen(), so the umask covers exactly it.
    bound = listen(server, { path, exclusive: true });
  } finally {
    process.umask(oldMask);
  }
  try {
    await bound;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ListenError(`cannot listen on ${path}: ${code}; check that the directory is writable by this user or choose another TRL_SOCKET_PATH`);
  }
  const st = lstatSync(path);
  if ((st.mode & 0o077) !== 0) {
    server.close();
    throw new ListenError(`socket ${path} came out with mode ${(st.mode & 0o777).toString(8)}, not 0600; refusing to serve on it`);
  }
  return {
    server,
    where: path,
    close: () => {
      server.close();
      try {
        const now = lstatSync(path);
        if (now.ino === st.ino && now.dev === st.dev) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}

function listen(server: Server, options: { path?: string; fd?: number; exclusive?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) {
    const what = st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a directory' : 'a file that is not a socket';
    throw new ListenError(`${path} exists and is ${what}; refusing to replace it — remove it or choose another TRL_SOCKET_PATH`);
  }
  const uid = process.getuid?.() ?? -1;
  if (st.uid !== uid) {
    throw new ListenError(`${path} is a socket owned by uid ${st.uid}, not by this user (${uid}); refusing to replace it`);
  }
  if (await isAnswering(path)) {
    throw new ListenError(`another daemon is already listening on ${path}; stop it or choose another TRL_SOCKET_PATH`);
  }
  unlinkSync(path);
}

function isAnswering(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
