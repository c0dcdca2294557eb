import { TrlRequestError, type TrlClient } from '../client/client';

/** First SIGINT/SIGTERM/SIGHUP: exec.cancel (TERM, grace, KILL); the next: exec.cancel with SIGKILL. */
export function cancelOnInterrupt(client: TrlClient, execId: string): { dispose: () => void; used: () => boolean } {
  let count = 0;
  const onSignal = () => {
    count++;
    const kill = count > 1;
    process.stderr.write(kill ? '\ntrl: killing the command (SIGKILL)\n' : '\ntrl: cancelling the command (Ctrl-C again to kill it at once)\n');
    client.cancel(execId, kill ? 'SIGKILL' : undefined).catch((err: Error) => {
      if (!(err instanceof TrlRequestError && err.code === 'EXEC_NOT_RUNNING')) process.stderr.write(`trl: cancel failed: ${err.message}\n`);
    });
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  return { dispose: () => signals.forEach((s) => process.off(s, onSignal)), used: () => count > 0 };
}
