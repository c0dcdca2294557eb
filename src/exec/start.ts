import { performance } from 'node:perf_hooks';
import type { Containment } from './containment';
import { CommandRun } from './run';
import type { RunSpec } from './run-spec';
import { rlimitsOf } from './limits';
import { invocation } from './script';
import type { SpawnedProcess, Spawner } from './spawn';
import { startError } from './start-error';

/**
 * Starts one command: its container (when the containment gives one), the
 * shell that runs it, the spawn. Resolves with the run once the process
 * exists; rejects with an ExecError that says what could not be started and why.
 */
export async function startCommand(spec: RunSpec, spawner: Spawner, containment: Containment | null): Promise<CommandRun> {
  const container = containment?.openCommand(spec.sessionId, spec.execId) ?? null;
  // A spawner that sets up the child itself: no ulimit or cgroup lines for the shell to run.
  const inChild = spawner.setsUpChild === true;
  const program = invocation({ ...spec, limits: inChild ? null : spec.limits, procsFile: inChild ? undefined : container?.procsFile });
  const placement = inChild ? { rlimits: rlimitsOf(spec.limits), cgroupDir: container?.dir } : {};
  const t0 = performance.now();
  let child: SpawnedProcess;
  try {
    const pty = spec.pty ? { pty: { cols: spec.pty.cols, rows: spec.pty.rows } } : {};
    child = await spawner({ ...program, ...placement, cwd: spec.cwd, env: { ...spec.env, TRL_EXEC_ID: spec.execId }, owner: spec.sessionId, ...pty });
  } catch (err) {
    container?.release();
    throw await startError(err as NodeJS.ErrnoException, spec.shell, spec.cwd);
  }
  return new CommandRun(spec, child, container, t0);
}
