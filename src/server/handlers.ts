import { constants } from 'node:os';
import { ErrorCode, TrlError } from '../protocol/errors';
import {
  ExecAttachParams,
  ExecCancelParams,
  ExecInputParams,
  ExecListParams,
  ExecStreamParams,
  ExecRunParams,
  NoParams,
  SessionCreateParams,
  SessionDestroyParams,
  SessionRefParams,
} from '../protocol/messages';
import type { SessionRegistry } from '../sessions/registry';
import { heapFigures, openFdCount, residentBytes } from '../system/stats';
import { VERSION } from '../system/version';
import { LazyList } from '../protocol/encode';
import { Router } from './router';

export interface DaemonInfo {
  startedAt: number;
  connections(): number;
  containment: string;
  /** Which spawner starts commands: `native` or `child_process`. */
  spawner: string;
  /** Why new work is being refused, or null. */
  pressure(): string | null;
}

const uptimeS = (info: DaemonInfo) => Math.floor((Date.now() - info.startedAt) / 1000);

/** The v1 methods, wired to the session pool. */
export function createRouter(pool: SessionRegistry, info: DaemonInfo, limits: { maxStdinBytes: number }): Router {
  return new Router()
    .register('system.ping', NoParams, () => ({ uptime_s: uptimeS(info), version: VERSION }))
    .register('system.stats', NoParams, () => ({
      active_sessions: pool.activeSessions,
      total_commands_run: pool.totalCommandsRun,
      uptime_s: uptimeS(info),
      memory_rss_bytes: residentBytes(),
      ...heapFigures(),
      open_fds: openFdCount(),
      running_commands: pool.runningCommands,
      connections: info.connections(),
      containment: info.containment,
      spawner: info.spawner,
      resource_pressure: info.pressure(),
      version: VERSION,
    }))
    .register('session.create', SessionCreateParams, async (p, ctx) => {
      const connection = ctx.connection;
      if (p.temporary && !connection) {
        throw new TrlError(ErrorCode.INVALID_PARAMS, 'params.temporary: needs a connection that outlives the request (the Unix socket or stdio), not HTTP');
      }
      const s = await pool.create(p);
      if (p.temporary) {
        connection!.onClose(() => {
          pool.destroy(s.id, false, 'connection closed').catch(() => {}); // already destroyed by its client
        });
      }
      return { ...s.summary(), timeout_s: pool.effectiveTimeoutS(s), limits: s.limits };
    })
    .register('session.list', NoParams, () => ({ sessions: pool.list().map((s) => s.summary()) }))
    .register('session.info', SessionRefParams, (p) => {
      const s = pool.get(p.session_id);
      return {
        ...s.summary(),
        env_keys: pool.envKeys(s),
        last_activity: new Date(s.lastActivity).toISOString(),
        command_count: s.commandCount,
        timeout_s: pool.effectiveTimeoutS(s),
        limits: s.limits,
      };
    })
    .register('session.destroy', SessionDestroyParams, async (p) => {
      await pool.destroy(p.session_id, p.force ?? false);
      return { session_id: p.session_id, state: 'terminated' };
    })
    .register('exec.run', ExecRunParams, (p) => pool.run(p))
    .register('exec.stream', ExecStreamParams, async (p, ctx) => {
      const withText = p.output_keep != null;
      const { live } = await pool.start(p, { collect: withText });
      live.textForStarter = withText;
      if (p.kill_on_disconnect) ctx.sink.onClose(() => void live.execution?.cancel());
      // Lossless: nothing may leave the window before its reader is there, so output waits until then.
      if (p.lossless) live.holdOutput(1);
      ctx.afterResponse(() => {
        const watcher = live.watch(ctx.sink, undefined, p.lossless ?? false, withText);
        if (p.lossless) live.holdOutput(-1);
        watcher.pump();
      });
      return { exec_id: live.id, session_id: live.sessionId, pid: live.execution?.pid ?? null };
    })
    .register('exec.attach', ExecAttachParams, (p, ctx) => {
      const live = pool.execs.get(p.exec_id);
      const from = { stdout: p.offsets?.stdout ?? 0, stderr: p.offsets?.stderr ?? 0 };
      for (const stream of ['stdout', 'stderr'] as const) {
        const total = live.log.totalBytes(stream);
        if (from[stream] > total) {
          throw new TrlError(ErrorCode.INVALID_PARAMS, `params.offsets.${stream}: ${from[stream]} is past the end of the stream (${total} bytes so far)`);
        }
      }
      ctx.afterResponse(() => live.watch(ctx.sink, from, p.lossless ?? false).pump());
      return live.summary();
    })
    .register('exec.cancel', ExecCancelParams, (p) => {
      const live = pool.runningExec(p);
      const signal = p.signal ? parseSignal(p.signal) : undefined;
      void live.execution!.cancel(signal);
      return { exec_id: live.id, session_id: live.sessionId, signal: signal ?? 'SIGTERM', escalates: signal === undefined };
    })
    .register('exec.input', ExecInputParams, (p) => {
      const live = pool.runningExec(p);
      const execution = live.execution!;
      if (!execution.stdinOpen) {
        throw new TrlError(ErrorCode.INVALID_PARAMS, `exec ${live.id} has no open stdin: start it with exec.stream and stdin_open: true (or it was closed with eof)`);
      }
      const data = p.data ?? '';
      const bytes = Buffer.byteLength(data);
      if (execution.pendingInputBytes + bytes > limits.maxStdinBytes) {
        throw new TrlError(
          ErrorCode.RESOURCE_PRESSURE,
          `exec ${live.id} is not reading its input: ${execution.pendingInputBytes} bytes still pending (limit TRL_MAX_STDIN_BYTES ${limits.maxStdinBytes})`,
        );
      }
      execution.writeInput(data, p.eof ?? false);
      live.inputSent();
      return { exec_id: live.id, bytes, eof: p.eof ?? false };
    })
    .register('exec.list', ExecListParams, (p) => {
      // Produced as it is written: thousands of retained command texts never make one string.
      const execs = new LazyList(function* () {
        for (const e of pool.execs.list(p.session_id)) yield e.summary();
      });
      return { execs };
    });
}

/** `SIGINT`, `INT` or `sigint` → `SIGINT`; anything else is an INVALID_PARAMS naming the field. */
function parseSignal(name: string): NodeJS.Signals {
  const upper = name.toUpperCase();
  const full = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!(full in constants.signals)) throw new TrlError(ErrorCode.INVALID_PARAMS, `params.signal: ${name} is not a signal name (e.g. SIGINT, SIGTERM, SIGKILL)`);
  return full;
}
