/**
 * Micro-benchmark of the byte-level JSON string encoder (src/protocol/json-bytes.ts)
 * against the path it replaces, measured in the same run:
 *
 *   string path: Buffer.from(JSON.stringify(buf.toString('utf8')))
 *   encoder:     JsonStringEncoder fed the same bytes in 64 KiB chunks (as a
 *                pipe delivers them), pulled as ≤ 64 KiB slices (as a transport writes them)
 *   one-shot:    jsonStringBytes(chunks), one Buffer with quotes (slices + concat)
 *
 * Inputs (4 MiB each): log-like text, a line-less text flood (`tr '\0' x`),
 * NULs, and random binary. Figures are MB/s of input (1 MB = 10^6 bytes), the
 * median of BENCH_JSON_BYTES_RUNS runs (default 15), the three paths alternated.
 * "longest step" is how long the event loop is held at once: the whole call for
 * the string path, the longest single pull() for the encoder (median over runs).
 * Runnable alone: `node dist/bench/json-bytes.js`.
 */
import { performance } from 'node:perf_hooks';
import { JsonStringEncoder, jsonStringBytes } from '../src/protocol/json-bytes';

const SIZE = 4 << 20;
const CHUNK = 64 * 1024;
const RUNS = Number(process.env.BENCH_JSON_BYTES_RUNS || 15);

function logText(): Buffer {
  const lines = [
    '2026-12-02T07:30:00.123Z INFO  server listening on /run/trl/trl.sock (pid 4242)\n',
    '  at Object.<anonymous> (/srv/app/index.js:12:7) "quoted" path C:\\tmp\\x\n',
    'compiling crate caf\u00e9 v0.1.0 \u2014 \u4e2d\u6587 \u{1F680} done in 1.2s\n',
    '\tWARN  retry 3/5: connection reset by peer\r\n',
  ];
  const parts: Buffer[] = [];
  for (let size = 0, i = 0; size < SIZE; i++) {
    const line = Buffer.from(lines[i % lines.length]!);
    parts.push(line);
    size += line.length;
  }
  return Buffer.concat(parts).subarray(0, SIZE);
}

function randomBytes(): Buffer {
  const buf = Buffer.allocUnsafe(SIZE);
  let s = 12345;
  for (let i = 0; i < SIZE; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    buf[i] = s >>> 24;
  }
  return buf;
}

const inputs: Array<[string, Buffer]> = [
  ['text (log lines)', logText()],
  ['text flood (no newline)', Buffer.alloc(SIZE, 'x')],
  ['NULs', Buffer.alloc(SIZE)],
  ['random binary', randomBytes()],
];

function chunksOf(buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let p = 0; p < buf.length; p += CHUNK) chunks.push(buf.subarray(p, p + CHUNK));
  return chunks;
}

type Path = (buf: Buffer, chunks: Buffer[]) => number;
const paths: Array<[string, Path]> = [
  ['string path', (buf) => Buffer.from(JSON.stringify(buf.toString('utf8'))).length],
  ['encoder', (_buf, chunks) => {
    const enc = new JsonStringEncoder();
    let out = 2;
    for (const c of chunks) {
      enc.push(c);
      for (let s = enc.pull(); s !== null; s = enc.pull()) out += s.length;
    }
    enc.end();
    for (let s = enc.pull(); s !== null; s = enc.pull()) out += s.length;
    return out;
  }],
  ['one-shot', (_buf, chunks) => jsonStringBytes(chunks).length],
];

/** The longest single pull() while encoding `chunks`, in ms. */
function longestPull(chunks: Buffer[]): number {
  const enc = new JsonStringEncoder();
  let longest = 0;
  const pullAll = () => {
    for (;;) {
      const t0 = performance.now();
      const s = enc.pull();
      longest = Math.max(longest, performance.now() - t0);
      if (s === null) return;
    }
  };
  for (const c of chunks) {
    enc.push(c);
    pullAll();
  }
  enc.end();
  pullAll();
  return longest;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mbps = (ms: number) => SIZE / 1e6 / (ms / 1e3);

console.log(`json-bytes: ${SIZE >> 20} MiB inputs, ${CHUNK >> 10} KiB chunks, median of ${RUNS} runs (MB/s of input)`);
console.log(`${'input'.padEnd(26)}${paths.map(([p]) => p.padStart(14)).join('')}${'encoder/string'.padStart(16)}` +
  `${'one-shot/string'.padStart(17)}   longest step: string path / encoder pull`);
for (const [name, buf] of inputs) {
  const chunks = chunksOf(buf);
  const lengths = paths.map(([, f]) => f(buf, chunks)); // warm-up, and a check that all paths agree on the size
  if (new Set(lengths).size !== 1) throw new Error(`${name}: the paths disagree on the output length: ${lengths}`);
  const times: number[][] = paths.map(() => []);
  const pulls: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    pulls.push(longestPull(chunks));
    paths.forEach(([, f], k) => {
      const t0 = performance.now();
      f(buf, chunks);
      times[k]!.push(performance.now() - t0);
    });
  }
  const rates = times.map((t) => mbps(median(t)));
  console.log(`${name.padEnd(26)}${rates.map((r) => r.toFixed(0).padStart(14)).join('')}` +
    `${(rates[1]! / rates[0]!).toFixed(2).padStart(15)}x${(rates[2]! / rates[0]!).toFixed(2).padStart(16)}x` +
    `   ${median(times[0]!).toFixed(1)} ms / ${median(pulls).toFixed(3)} ms   (output ${(lengths[0]! / 1e6).toFixed(1)} MB)`);
}
