import { TrlRequestError, type ExecResult, type ExecSummary, type TrlClient } from '../client/client';
import { Follower } from './follower';
import type { DaemonLink } from './link';
import { connectionSessionName, isOrphanName } from './session-names';

interface SessionInfo {
  session_id: string;
  name: string | null;
  working_dir: string;
}

export interface StartArgs {
  command: string;
  env?: Record<string, string> | undefined;
  timeout_s?: number | undefined;
  /** A terminal: true (80x24) or its size; absent or false for pipes. */
  pty?: boolean | { cols: number; rows: number } | undefined;
}

/**
 * One MCP connection's state in trld: its session (created on first use, so
 * `cd` and `export` carry over between run_command calls), the sessions of
 * its started commands, and the followers of the execs it read.
 */
export class McpSession {
  readonly name = connectionSessionName();
  private main: { id: string; generation: number } | null = null;
  private creating: Promise<string> | null = null;
  private stopping: Promise<void> | null = null;
  readonly followers = new Map<string, Follower>();
  private readonly ownSessions = new Set<string>();

  constructor(
    private readonly link: DaemonLink,
    private readonly cwd: string,
  ) {}

  /** The connection's session, created on first use (again after trld restarted or expired it). */
  private mainSession(c: TrlClient): Promise<string> {
    if (this.main && this.main.generation === this.link.generation) return Promise.resolve(this.main.id);
    this.creating ??= this.create(c, this.name, this.cwd)
      .then((id) => {
        this.main = { id, generation: this.link.generation };
        return id;
      })
      .finally(() => (this.creating = null));
    return this.creating;
  }

  private async create(c: TrlClient, name: string, cwd: string): Promise<string> {
    const s = await c.request<SessionInfo>('session.create', { working_dir: cwd, name });
    this.ownSessions.add(s.session_id);
    return s.session_id;
  }

  /** run_command: waits for the result, keeping each stream's head and tail. `note` says when the session had to be remade. */
  async run(args: StartArgs, abort: AbortSignal): Promise<{ result: ExecResult; note: string | null }> {
    return this.link.call('run_command', async (c) => {
      // A session made on an earlier connection died with the daemon that restarted since.
      const stale = this.main !== null && this.main.generation !== this.link.generation;
      let note = stale ? `trld was restarted: a new session started in ${this.cwd} (directory and exported variables were reset)` : null;
      let sid = await this.mainSession(c);
      const params = { command: args.command, timeout_s: args.timeout_s, env: args.env, output_keep: 'head_tail' as const, ...(args.pty ? { pty: args.pty } : {}) };
      // A command whose request the agent cancelled is still stopping: the session is free once its result is in.
      await this.stopping;
      const onAbort = () => void c.cancel({ session_id: sid }).catch(() => {});
      abort.addEventListener('abort', onAbort);
      try {
        const running = c.run({ session_id: sid, ...params });
        abort.addEventListener('abort', () => (this.stopping = running.then(() => {}, () => {})), { once: true });
        return { result: await running, note };
      } catch (err) {
        if (!(err instanceof TrlRequestError && err.code === 'SESSION_NOT_FOUND')) throw err;
        // The daemon expired the idle session (TRL_MAX_IDLE_SEC): start over where the connection began.
        this.main = null;
        sid = await this.mainSession(c);
        note = `the previous session had expired: a new one started in ${this.cwd} (directory and exported variables were reset)`;
        return { result: await c.run({ session_id: sid, ...params }), note };
      } finally {
        abort.removeEventListener('abort', onAbort);
      }
    });
  }

  /** start_command: a session of its own (commands of one session run one at a time), in the current directory. */
  async start(args: StartArgs): Promise<Follower> {
    return this.link.call('start_command', async (c) => {
      const cwd = this.main && this.main.generation === this.link.generation ? (await c.request<SessionInfo>('session.info', { session_id: this.main.id })).working_dir : this.cwd;
      const sid = await this.create(c, `${this.name}:bg`, cwd);
      try {
        const s = await c.stream({ session_id: sid, command: args.command, ...(args.env ? { env: args.env } : {}), ...(args.timeout_s !== undefined ? { timeout_s: args.timeout_s } : {}), ...(args.pty ? { pty: args.pty } : {}), stdin_open: true });
        return this.track(new Follower(s.execId, args.command, s.events, sid, Boolean(args.pty)), c);
      } catch (err) {
        void c.request('session.destroy', { session_id: sid, force: true }).catch(() => {});
        this.ownSessions.delete(sid);
        throw err;
      }
    });
  }

  /** The follower of an exec: this connection's, or a new reader of one started elsewhere (its id names it). */
  async follow(execId: string): Promise<Follower> {
    const known = this.followers.get(execId);
    if (known && !known.lost) return known;
    return this.link.call(`exec ${execId}`, async (c) => {
      const a = await c.attach(execId);
      const session = (await this.sessions(c)).find((s) => s.session_id === a.response.session_id);
      const orphanBg = session && session.name?.endsWith(':bg') && isOrphanName(session.name) ? session.session_id : null;
      return this.track(new Follower(execId, a.response.command, a.events, orphanBg), c);
    });
  }

  /** Execs of this connection, the ones it followed, and those a crashed `trl mcp` left behind. */
  async list(): Promise<(ExecSummary & { orphan: boolean })[]> {
    return this.link.call('list_commands', async (c) => {
      const [execs, sessions] = await Promise.all([c.execs(), this.sessions(c)]);
      const orphans = new Set(sessions.filter((s) => isOrphanName(s.name)).map((s) => s.session_id));
      return execs
        .filter((e) => this.ownSessions.has(e.session_id) || this.followers.has(e.exec_id) || orphans.has(e.session_id))
        .map((e) => ({ ...e, orphan: orphans.has(e.session_id) }));
    });
  }

  /** The MCP connection ended normally: its sessions go, and everything they run. */
  async close(): Promise<void> {
    if (this.ownSessions.size === 0) return;
    const c = await this.link.client().catch(() => null);
    if (!c) return;
    await Promise.all([...this.ownSessions].map((id) => c.request('session.destroy', { session_id: id, force: true }).catch(() => {})));
    this.ownSessions.clear();
  }

  private sessions(c: TrlClient): Promise<SessionInfo[]> {
    return c.request<{ sessions: SessionInfo[] }>('session.list').then((r) => r.sessions);
  }

  /** Keeps the follower; when its command ends, its own session is destroyed (the exec's output stays readable). */
  private track(f: Follower, c: TrlClient): Follower {
    this.followers.set(f.execId, f);
    void f.ended.then(() => {
      if (f.exit && f.ownSession) {
        void c.request('session.destroy', { session_id: f.ownSession, force: true }).catch(() => {});
        this.ownSessions.delete(f.ownSession);
      }
    });
    return f;
  }
}
