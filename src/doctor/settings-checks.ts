import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DoctorContext } from './context';
import { fail, mode, na, pass, safeStat, worldWritable, type Check } from './result';

/** Nothing in the daemon's own environment or its output routing lets env values reach the log. */
export const logging: Check<DoctorContext> = (ctx) => {
  const id = 'logging';
  const title = 'logging cannot carry env values';
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const { source, env } of ctx.daemonEnv) {
    const debug = env.NODE_DEBUG;
    if (debug !== undefined && /child_process|\*/i.test(debug)) {
      problems.push(`NODE_DEBUG=${debug} in ${source}: Node then logs every spawn's environment`);
      fixes.push(`remove NODE_DEBUG from ${source}`);
    }
    const nodeOptions = env.NODE_OPTIONS;
    if (nodeOptions !== undefined && /--(inspect|trace|report-on|heapsnapshot)/.test(nodeOptions)) {
      problems.push(`NODE_OPTIONS in ${source} enables inspection, tracing or reports, which can dump the daemon's memory (env values) to disk or a debugger`);
      fixes.push(`remove those NODE_OPTIONS from ${source}`);
    }
  }
  if (ctx.unit) {
    for (const key of ['Service.StandardOutput', 'Service.StandardError']) {
      const v = ctx.unit.get(key);
      const m = v ? /^(?:file|append|truncate):(.+)$/.exec(v) : null;
      if (!m) continue;
      const st = safeStat(m[1]!);
      if (st && (st.mode & 0o004) !== 0) {
        problems.push(`${key.split('.')[1]}= writes the log to ${m[1]}, which everyone can read (mode ${mode(st.mode)})`);
        fixes.push(`chmod o-r ${m[1]} or log to the journal`);
      }
    }
  }
  const level = ctx.settings.ok ? ctx.settings.config.log_level : 'info';
  if (problems.length) return fail(id, title, problems.join('; '), fixes.join('; '));
  const seen = ctx.daemonEnv.length ? `checked ${ctx.daemonEnv.map((e) => e.source).join(', ')}` : 'no daemon environment to check';
  return pass(id, title, `trld logs names and ids only, with redaction (log level ${level}); ${seen}`);
};

/** The settings trld would read parse; max sessions has a value. */
export const maxSessions: Check<DoctorContext> = (ctx) => {
  const id = 'max_sessions';
  const title = 'max session limit is configured';
  if (!ctx.settings.ok) return fail(id, title, `the settings are invalid, trld would refuse to start: ${ctx.settings.problems.join('; ')}`, 'correct them in the env file or the unit');
  const set = ctx.settingsRaw.TRL_MAX_SESSIONS !== undefined;
  return pass(id, title, `TRL_MAX_SESSIONS=${ctx.settings.config.max_sessions}${set ? '' : ' (the default)'}`);
};

/** A default command timeout is in force (0 would mean none). */
export const defaultTimeout: Check<DoctorContext> = (ctx) => {
  const id = 'default_timeout';
  const title = 'default command timeout is set';
  if (!ctx.settings.ok) return fail(id, title, `the settings are invalid: ${ctx.settings.problems.join('; ')}`, 'correct them in the env file or the unit');
  const t = ctx.settings.config.default_timeout_s;
  if (t === 0) return fail(id, title, 'TRL_DEFAULT_TIMEOUT_S=0: a command that never ends holds its session forever', 'set TRL_DEFAULT_TIMEOUT_S to a number of seconds (default 300)');
  return pass(id, title, `TRL_DEFAULT_TIMEOUT_S=${t}${ctx.settingsRaw.TRL_DEFAULT_TIMEOUT_S === undefined ? ' (the default)' : ''}`);
};

/** No runtime file (binary, bundle, libraries), nor a directory holding them, is world-writable. */
export const runtimeFiles: Check<DoctorContext> = (ctx) => {
  const id = 'runtime_files';
  const title = 'runtime binary, bundle and libraries are not world-writable';
  if (ctx.runtimePaths.length === 0) return na(id, title, 'no runtime files found', 'pass --runtime-path PATH');
  const bad: string[] = [];
  const missing: string[] = [];
  let count = 0;
  const LIMIT = 100_000;
  const walk = (p: string) => {
    if (count++ > LIMIT) return;
    const st = safeStat(p);
    if (!st) return;
    if (worldWritable(st)) bad.push(`${p} (${mode(st.mode)})`);
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(join(p, n));
    }
  };
  for (const p of ctx.runtimePaths) {
    if (!safeStat(p)) {
      missing.push(p);
      continue;
    }
    walk(p);
    // the directories above: world-writable without the sticky bit lets anyone swap the files
    for (let d = dirname(p); ; d = dirname(d)) {
      const st = safeStat(d);
      if (st && worldWritable(st) && (st.mode & 0o1000) === 0) bad.push(`${d} (${mode(st.mode)}, above ${p})`);
      if (d === '/') break;
    }
  }
  const uniq = [...new Set(bad)];
  if (uniq.length) {
    const shown = uniq.slice(0, 10).join(', ') + (uniq.length > 10 ? ` and ${uniq.length - 10} more` : '');
    return fail(id, title, `world-writable: ${shown}`, `chmod o-w on each (e.g. chmod -R o-w ${ctx.runtimePaths.join(' ')}); anyone could otherwise replace the code the daemon runs`);
  }
  if (missing.length) return fail(id, title, `not found: ${missing.join(', ')}`, 'reinstall trl (apt install --reinstall trl), or pass --runtime-path');
  return pass(id, title, `${count} files and directories under ${ctx.runtimePaths.join(', ')}`);
};
