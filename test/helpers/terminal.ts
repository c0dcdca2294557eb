import type { StreamEvent } from '../../src/client/client';

/** Reads events until the stdout text so far satisfies `until`; returns that text. Leaves the iterator open. */
export async function readUntil(it: AsyncIterator<StreamEvent>, until: (stdout: string) => boolean): Promise<string> {
  let stdout = '';
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error(`stream ended early; stdout so far: ${JSON.stringify(stdout)}`);
    if (r.value.event === 'output' && r.value.stream === 'stdout') stdout += r.value.data;
    if (until(stdout)) return stdout;
  }
}
