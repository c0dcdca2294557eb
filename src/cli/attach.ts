import type { Offsets, TrlClient } from '../client/client';
import { offset, type Options } from './options';
import { exitStatus, render } from './render';

/** `trl attach`: follows a command from the given offsets; Ctrl-C detaches and leaves it running. */
export async function attach(client: TrlClient, execId: string, opts: Options): Promise<number> {
  const from: Offsets = {};
  const fromStdout = offset(opts['from-stdout'], '--from-stdout');
  const fromStderr = offset(opts['from-stderr'], '--from-stderr');
  if (fromStdout !== undefined) from.stdout = fromStdout;
  if (fromStderr !== undefined) from.stderr = fromStderr;
  const stream = await client.attach(execId, fromStdout !== undefined || fromStderr !== undefined ? from : undefined, { output_encoding: 'base64' });
  let detached = false;
  const detach = () => {
    detached = true;
    process.stderr.write(`\ntrl: detached; exec ${execId} keeps running (trl attach ${execId} to follow it again, trl cancel ${execId} to stop it)\n`);
    client.destroy();
  };
  process.once('SIGINT', detach);
  try {
    const exit = await render(stream.events, () => {});
    return exitStatus(exit, false);
  } catch (err) {
    if (detached) return 130;
    throw err;
  } finally {
    process.off('SIGINT', detach);
  }
}
