import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { TrlClient } from '../src/client/client';

/**
 * Pings the daemon on its own connection from its own event loop, so the
 * bench's main thread (which parses the flood's multi-MiB answers) never
 * delays a ping reply being read. Messages: 'start' begins a series, 'stop'
 * ends it and posts back the round-trip times in ms.
 */
const { socketPath, intervalMs } = workerData as { socketPath: string; intervalMs: number };

async function main(): Promise<void> {
  const client = await TrlClient.connect(socketPath);
  let running = false;
  let samples: number[] = [];
  let loop: Promise<void> = Promise.resolve();

  const run = async () => {
    while (running) {
      const t0 = performance.now();
      await client.request('system.ping');
      samples.push(performance.now() - t0);
      const wait = intervalMs - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };

  parentPort!.on('message', async (msg: string) => {
    if (msg === 'start') {
      samples = [];
      running = true;
      loop = run();
    } else if (msg === 'stop') {
      running = false;
      await loop;
      parentPort!.postMessage(samples);
    } else if (msg === 'exit') {
      client.close();
      process.exit(0);
    }
  });
  parentPort!.postMessage('ready');
}

main().catch((err) => {
  parentPort!.postMessage({ error: String(err) });
});
