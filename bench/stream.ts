/**
 * Streaming benchmark (part of `make bench`, also runnable alone:
 * `node dist/bench/stream.js`). Two figures, each beside its baseline
 * measured in the same run:
 *
 *  - throughput: bytes per second through exec.stream to a lossless reader
 *    (trl's TypeScript client, reading as fast as it can and taking each
 *    event's bytes with outputBytes; the command waits for it), against the
 *    same command's bytes piped straight (through `cat`) into this Node
 *    process. Target: ≥ 80 % of the raw pipe, for text and for
 *    NUL bytes (each one `\u0000`, six bytes, in a JSON string); the NULs
 *    again for a reader that asks for `output_encoding: "base64"`. Missed
 *    bytes (gap events) are shown and should be 0.
 *  - line latency: a command writes a line every ~20 ms carrying its own
 *    CLOCK_MONOTONIC timestamp; latency is receipt time (same clock) minus
 *    that stamp. Target: p99 ≤ 5 ms on an idle machine.
 *
 * Settings (environment):
 *   BENCH_STREAM_BYTES      bytes of the throughput command (default 512M)
 *   BENCH_STREAM_NUL_BYTES  bytes of the NUL-byte variant (default 128M; 0 skips it)
 *   BENCH_STREAM_ROUNDS     raw/daemon pairs, alternated; the best of each counts (default 2)
 *   BENCH_STREAM_LINES      lines of the latency command (default 250)
 *   BENCH_STREAM_LINE_MS    ms between lines (default 20)
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { TrlClient, outputBytes } from '../src/client/client';
import type { OutputEncoding } from '../src/protocol/messages';
import { readMemory } from '../src/system/proc';
import { procCpuTicks, startDaemon, type BenchDaemon } from './daemon';

const env = (name: string, def: string) => process.env[name] || def;
function num(name: string, def: number): number {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative number`);
  return n;
}
/** `512M` → bytes (K, M, G are powers of 1024, as head(1) reads them). */
function size(spec: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(spec.trim());
  if (!m) throw new Error(`bad size ${spec}: expected e.g. 512M`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

const MB = 1e6;
/** Streaming to a lossless reader against a raw pipe, in per cent (the byte-path issue's target). */
const TARGET_PCT = 80;
const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

// ------------------------------------------------------------ throughput

interface Transfer {
  bytes: number;
  missed: number;
  seconds: number;
  /** Delivered bytes per second. */
  rate: number;
}

/** The raw pipe: the command's stdout straight into this process. */
function rawPipe(command: string): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${command} exited with ${code}`));
      const seconds = (performance.now() - t0) / 1000;
      resolve({ bytes, missed: 0, seconds, rate: bytes / seconds });
    });
  });
}

/** The same command through exec.stream, read as fast as the client can. */
async function throughStream(client: TrlClient, sessionId: string, command: string, encoding: OutputEncoding): Promise<Transfer> {
  const t0 = performance.now();
  // lossless: every byte reaches the reader, so the figure is delivered bytes, with the command paced by the reader.
  const s = await client.stream({ session_id: sessionId, command, timeout_s: 600, lossless: true, output_encoding: encoding });
  let bytes = 0;
  let missed = 0;
  for await (const ev of s.events) {
    if (ev.event === 'output') bytes += outputBytes(ev).length;
    else if (ev.event === 'gap') missed += ev.missed_bytes;
    else if (ev.event === 'exit' && ev.exit_code !== 0) throw new Error(`${command} exited with ${ev.exit_code}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { bytes, missed, seconds, rate: bytes / seconds };
}

interface ThroughputFigures {
  command: string;
  bytes: number;
  raw_mb_s: number[];
  stream_mb_s: number[];
  stream_missed_bytes: number[];
  best_raw_mb_s: number;
  best_stream_mb_s: number;
  ratio_pct: number;
  daemon_cpu_s: number;
  daemon_peak_rss_mb: number | null;
}

async function throughput(d: BenchDaemon, client: TrlClient, sessionId: string, command: string, bytes: number, rounds: number, encoding: OutputEncoding = 'text'): Promise<ThroughputFigures> {
  const raw: Transfer[] = [];
  const str: Transfer[] = [];
  const cpu0 = procCpuTicks(d.pid);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, readMemory(d.pid)?.rss ?? 0)), 50);
  try {
    for (let i = 0; i < Math.max(1, rounds); i++) {
      raw.push(await rawPipe(`${command} | cat`));
      str.push(await throughStream(client, sessionId, command, encoding));
    }
  } finally {
    clearInterval(sampler);
  }
  const bestRaw = Math.max(...raw.map((t) => t.rate));
  const bestStream = Math.max(...str.map((t) => t.rate));
  return {
    command,
    bytes,
    raw_mb_s: raw.map((t) => r1(t.rate / MB)),
    stream_mb_s: str.map((t) => r1(t.rate / MB)),
    stream_missed_bytes: str.map((t) => t.missed),
    best_raw_mb_s: r1(bestRaw / MB),
    best_stream_mb_s: r1(bestStream / MB),
    ratio_pct: r1((bestStream / bestRaw) * 100),
    daemon_cpu_s: r3((procCpuTicks(d.pid) - cpu0) / 100),
    daemon_peak_rss_mb: peak ? r1(peak / 1048576) : null,
  };
}

// --------------------------------------------------------------- latency

interface LatencyDist {
  n: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

function dist(samples: number[]): LatencyDist {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return { n: s.length, p50_ms: r3(q(0.5)), p99_ms: r3(q(0.99)), max_ms: r3(s[s.length - 1] ?? NaN) };
}

/** Lines of CLOCK_MONOTONIC nanoseconds, one every `everyMs`. Python's monotonic clock and process.hrtime are the same clock. */
const stamper = (lines: number, everyMs: number) =>
  `python3 -c 'import sys, time
for i in range(${lines}):
    sys.stdout.write("%d\\n" % time.monotonic_ns()); sys.stdout.flush(); time.sleep(${everyMs / 1000})'`;

/** Feeds text in pieces; calls back with each complete line's latency in ms. */
function lineLatencies(): { feed: (text: string) => void; samples: number[] } {
  let partial = '';
  const samples: number[] = [];
  return {
    samples,
    feed(text: string) {
      const now = process.hrtime.bigint();
      partial += text;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (/^\d+$/.test(line)) samples.push(Number(now - BigInt(line)) / 1e6);
      }
    },
  };
}

function rawLatency(command: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    const l = lineLatencies();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => l.feed(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(l.samples) : reject(new Error(`latency command exited with ${code}`))));
  });
}

async function streamLatency(client: TrlClient, sessionId: string, command: string): Promise<number[]> {
  const s = await client.stream({ session_id: sessionId, command });
  const l = lineLatencies();
  for await (const ev of s.events) {
    if (ev.event === 'output' && ev.stream === 'stdout') l.feed(ev.data);
    else if (ev.event === 'exit' && ev.exit_code !== 0) throw new Error(`latency command exited with ${ev.exit_code}`);
  }
  return l.samples;
}

// ------------------------------------------------------------------ run

export async function runStreamBench(opts: { nodeArgs?: string[]; root?: string; env?: Record<string, string> } = {}): Promise<object> {
  const bytesSpec = env('BENCH_STREAM_BYTES', '512M');
  const nulSpec = env('BENCH_STREAM_NUL_BYTES', '128M');
  const rounds = num('BENCH_STREAM_ROUNDS', 2);
  const lines = num('BENCH_STREAM_LINES', 250);
  const everyMs = num('BENCH_STREAM_LINE_MS', 20);

  const d = await startDaemon('warn', { TRL_DEFAULT_TIMEOUT_S: '0', ...opts.env }, { nodeArgs: opts.nodeArgs, root: opts.root });
  const client = await TrlClient.connect(d.socketPath);
  try {
    const sessionId = (await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;

    const text = await throughput(d, client, sessionId, `head -c ${bytesSpec} /dev/zero | tr '\\0' x`, size(bytesSpec), rounds);
    const met = text.ratio_pct >= TARGET_PCT;
    console.log(
      `stream throughput, ${bytesSpec} of text: raw pipe ${text.best_raw_mb_s} MB/s, exec.stream ${text.best_stream_mb_s} MB/s ` +
        `= ${text.ratio_pct} % (target ≥ ${TARGET_PCT} %: ${met ? 'met' : 'NOT met'}); rounds raw ${text.raw_mb_s.join('/')} stream ${text.stream_mb_s.join('/')} MB/s; ` +
        `missed (gaps) ${text.stream_missed_bytes.map((b) => r1(b / 1048576)).join('/')} MiB; daemon cpu ${text.daemon_cpu_s} s, peak rss ${text.daemon_peak_rss_mb} MiB`,
    );

    let nul: ThroughputFigures | null = null;
    let nulBase64: ThroughputFigures | null = null;
    if (size(nulSpec) > 0) {
      nul = await throughput(d, client, sessionId, `head -c ${nulSpec} /dev/zero`, size(nulSpec), rounds);
      console.log(
        `stream throughput, ${nulSpec} of NUL bytes (each sent as \\u0000 in JSON): raw pipe ${nul.best_raw_mb_s} MB/s, exec.stream ${nul.best_stream_mb_s} MB/s ` +
          `= ${nul.ratio_pct} % (target ≥ ${TARGET_PCT} %: ${nul.ratio_pct >= TARGET_PCT ? 'met' : 'NOT met'}); missed ${nul.stream_missed_bytes.map((b) => r1(b / 1048576)).join('/')} MiB`,
      );
      nulBase64 = await throughput(d, client, sessionId, `head -c ${nulSpec} /dev/zero`, size(nulSpec), rounds, 'base64');
      console.log(
        `stream throughput, ${nulSpec} of NUL bytes, reader asking output_encoding "base64": raw pipe ${nulBase64.best_raw_mb_s} MB/s, exec.stream ${nulBase64.best_stream_mb_s} MB/s ` +
          `= ${nulBase64.ratio_pct} %; missed ${nulBase64.stream_missed_bytes.map((b) => r1(b / 1048576)).join('/')} MiB`,
      );
    }

    let latency: { lines: number; every_ms: number; raw: LatencyDist; stream: LatencyDist; target_met: boolean } | null = null;
    if (lines > 0) {
      const cmd = stamper(lines, everyMs);
      const raw = dist(await rawLatency(cmd));
      const stream = dist(await streamLatency(client, sessionId, cmd));
      latency = { lines, every_ms: everyMs, raw, stream, target_met: stream.p99_ms <= 5 };
      console.log(
        `line latency, ${lines} lines every ${everyMs} ms: raw pipe p50 ${raw.p50_ms} ms p99 ${raw.p99_ms} ms; ` +
          `exec.stream p50 ${stream.p50_ms} ms p99 ${stream.p99_ms} ms max ${stream.max_ms} ms (target p99 ≤ 5 ms: ${latency.target_met ? 'met' : 'NOT met'})`,
      );
    }
    return { throughput: { ...text, target_pct: TARGET_PCT, target_met: met }, throughput_nul: nul, throughput_nul_base64: nulBase64, latency };
  } finally {
    client.close();
    await d.dispose();
  }
}

if (require.main === module) {
  runStreamBench().then(
    (figures) => {
      if (process.env.BENCH_JSON) console.log(JSON.stringify(figures, null, 2));
    },
    (err: Error) => {
      console.error(`stream bench failed: ${err.stack ?? err.message}`);
      process.exitCode = 1;
    },
  );
}
