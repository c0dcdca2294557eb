import { constants } from 'node:os';
import { ErrorCode, TrlError } from '../protocol/errors';
import {
  ExecAttachParams,
  ExecCancelParams,
  ExecInputParams,
  ExecListParams,
  ExecResizeParams,
  ExecScreenParams,
  ExecStreamParams,
  ExecRunParams,
  NoParams,
  SessionCreateParams,
  SessionDestroyParams,
  SessionRefParams,
} from '../protocol/messages';
import type { SessionRegistry } from '../sessions/registry';
import { heapFigures, openFdCount, residentBytes } from '../system/self-usage';
import { VERSION } from '../system/version';
import { LazyList } from '../protocol/encode';
import type { ExecCancelled, ExecStreamStarted } from '../protocol/events';
import { atEdge, execResult, execSummary, sessionSummary } from './to-wire';
import { Router } from './router';
import { watch } from './watcher';
import { DEFAULT_PTY_LIMITS, notOnTerminal, Terminals, type PtyLimits } from './terminal';

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

/** The v1 methods, wired to the session registry. */
export function createRouter(registry: SessionRegistry, info: DaemonInfo, limits: { maxStdinBytes: number; pty?: PtyLimits }): Router {
  const terminals = new Terminals(limits.pty ?? DEFAULT_PTY_LIMITS, info.spawner);
  return new Router()
    .register('system.ping', NoParams, () => ({ uptime_s: uptimeS(info), version: VERSION }))
    .register('system.stats', NoParams, () => ({
      active_sessions: registry.activeSessions,
      total_commands_run: registry.totalCommandsRun,
      uptime_s: uptimeS(info),
      memory_rss_bytes: residentBytes(),
      ...heapFigures(),
      open_fds: openFdCount(),
      running_commands: registry.runningCommands,
      connections: info.connections(),
      containment: info.containment,
      spawner: info.spawner,
      resource_pressure: info.pressure(),
      version: VERSION,
    }))
    .register('session.create', SessionCreateParams, atEdge(async (p, ctx) => {
      const connection = ctx.connection;
      if (p.temporary && !connection) {
        throw new TrlError(ErrorCode.INVALID_PARAMS, 'params.temporary: needs a connection that outlives the request (the Unix socket or stdio), not HTTP');
      }
      const s = await registry.create(p);
      if (p.temporary) {
        connection!.onClose(() => {
          registry.destroy(s.id, false, 'connection closed').catch(() => {}); // already destroyed by its client
        });
      }
      return { ...sessionSummary(s), timeout_s: registry.effectiveTimeoutS(s), limits: s.limits };
    }))
    .register('session.list', NoParams, () => ({ sessions: registry.list().map(sessionSummary) }))
    .register('session.info', SessionRefParams, (p) => {
      const s = registry.get(p.session_id);
      return {
        ...sessionSummary(s),
        env_keys: registry.envKeys(s),
        last_activity: new Date(s.lastActivity).toISOString(),
        command_count: s.commandCount,
        timeout_s: registry.effectiveTimeoutS(s),
        limits: s.limits,
      };
    })
    .register('session.destroy', SessionDestroyParams, async (p) => {
      await registry.destroy(p.session_id, p.force ?? false);
      return { session_id: p.session_id, state: 'terminated' };
    })
    .register(
      'exec.run',
      ExecRunParams,
      atEdge(async (p) => execResult(await (await terminals.admit(p.pty, () => registry.start(p, true))).done)),
    )
    .register('exec.stream', ExecStreamParams, atEdge(async (p, ctx) => {
      const withText = p.output_keep != null;
      const { record } = await terminals.admit(p.pty, () => registry.start(p, withText));
      record.textForStarter = withText;
      if (p.kill_on_disconnect) ctx.sink.onClose(() => void record.run?.cancel());
      // Lossless: nothing may leave the window before its reader is there, so output waits until then.
      if (p.lossless) record.holdOutput(1);
      ctx.afterResponse(() => {
        const watcher = watch(record, ctx.sink, { lossless: p.lossless ?? false, withText, base64: p.output_encoding === 'base64' });
        if (p.lossless) record.holdOutput(-1);
        watcher.pump();
      });
      return { exec_id: record.id, session_id: record.sessionId, pid: record.run?.pid ?? null } satisfies ExecStreamStarted;
    }))
    .register('exec.attach', ExecAttachParams, (p, ctx) => {
      const record = registry.execs.get(p.exec_id);
      const from = { stdout: p.offsets?.stdout ?? 0, stderr: p.offsets?.stderr ?? 0 };
      for (const stream of ['stdout', 'stderr'] as const) {
        const total = record.output.totalBytes(stream);
        if (from[stream] > total) {
          throw new TrlError(ErrorCode.INVALID_PARAMS, `params.offsets.${stream}: ${from[stream]} is past the end of the stream (${total} bytes so far)`);
        }
      }
      ctx.afterResponse(() => watch(record, ctx.sink, { from, lossless: p.lossless ?? false, base64: p.output_encoding === 'base64' }).pump());
      return execSummary(record);
    })
    .register('exec.cancel', ExecCancelParams, (p) => {
      const { record, run } = registry.runningExec(p);
      const signal = p.signal ? parseSignal(p.signal) : undefined;
      void run.cancel(signal);
      return { exec_id: record.id, session_id: record.sessionId, signal: signal ?? 'SIGTERM', escalates: signal === undefined } satisfies ExecCancelled;
    })
    .register('exec.input', ExecInputParams, (p) => {
      const { record, run } = registry.runningExec(p);
      if (!run.stdinOpen) {
        throw new TrlError(ErrorCode.INVALID_PARAMS, `exec ${record.id} has no open stdin: start it with exec.stream and stdin_open: true (or it was closed with eof)`);
      }
      const data = p.data ?? '';
      const bytes = Buffer.byteLength(data);
      if (run.pendingInputBytes + bytes > limits.maxStdinBytes) {
        throw new TrlError(
          ErrorCode.RESOURCE_PRESSURE,
          `exec ${record.id} is not reading its input: ${run.pendingInputBytes} bytes still pending (limit TRL_MAX_STDIN_BYTES ${limits.maxStdinBytes})`,
        );
      }
      run.writeInput(data, p.eof ?? false);
      record.inputSent();
      return { exec_id: record.id, bytes, eof: p.eof ?? false };
    })
    .register('exec.resize', ExecResizeParams, (p) => {
      const { record, run } = registry.runningExec(p);
      if (!run.onTerminal) throw notOnTerminal(record.id);
      terminals.checkSize(p, 'params');
      if (!run.resize({ cols: p.cols, rows: p.rows })) {
        throw new TrlError(ErrorCode.EXEC_NOT_RUNNING, `exec ${record.id} has already finished; its terminal is closed`);
      }
      return { exec_id: record.id, cols: p.cols, rows: p.rows };
    })
    .register('exec.screen', ExecScreenParams, (p) => terminals.screen(registry.execs.get(p.exec_id), p.scrollback ?? 0))
    .register('exec.list', ExecListParams, (p) => {
      // Produced as it is written: thousands of retained command texts never make one string.
      const execs = new LazyList(function* () {
        for (const e of registry.execs.list(p.session_id)) yield execSummary(e);
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
