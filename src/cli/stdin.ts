import { StringDecoder } from 'node:string_decoder';
import { TrlRequestError, type TrlClient } from '../client/client';

/**
 * -i: trl's stdin goes to the command, one exec.input per chunk (the next
 * chunk is read only once the daemon took the previous one), then eof.
 * Chunks are cut at character boundaries; input must be UTF-8 text.
 */
export function forwardStdin(client: TrlClient, execId: string): { stop: () => void } {
  let stopped = false;
  const decoder = new StringDecoder('utf8');
  const send = async (data: string, eof: boolean): Promise<void> => {
    for (;;) {
      try {
        await client.input(execId, data, eof);
        return;
      } catch (err) {
        // The command is not reading yet and the daemon's input buffer is full: wait for it.
        if (err instanceof TrlRequestError && err.code === 'RESOURCE_PRESSURE' && !stopped) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw err;
      }
    }
  };
  const run = async () => {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      if (stopped) return;
      const text = decoder.write(chunk);
      if (text) await send(text, false);
    }
    if (!stopped) await send(decoder.end(), true);
  };
  run().catch((err: Error) => {
    if (stopped) return;
    // The command ended or closed its input: nothing more to pass on.
    if (err instanceof TrlRequestError && (err.code === 'EXEC_NOT_RUNNING' || err.code === 'INVALID_PARAMS')) return;
    process.stderr.write(`trl: passing stdin on failed: ${err.message}\n`);
  });
  return {
    stop: () => {
      stopped = true;
      process.stdin.destroy();
    },
  };
}
