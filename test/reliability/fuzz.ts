/**
 * Protocol fuzzing: malformed and hostile lines, interleaved with valid pings,
 * on several connections at once; then lines longer than TRL_MAX_REQUEST_BYTES
 * on connections of their own. Checks: the daemon never dies, every complete
 * line gets exactly one answer (and every ping an `ok` one), every line it sends
 * is JSON, no INTERNAL_ERROR, connections and fds come back to the baseline,
 * RSS stays bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { isAlive } from '../helpers/proc';
import { createSession, mib, nextId, rssOf, rssSampler, stats } from './lib';
import { RawWire } from '../helpers/raw-wire';

/** A deterministic PRNG (mulberry32) so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HUGE = '"__HUGE__"';
const BIG = '"__BIG__"';
const NEG_HUGE = '"__NEG_HUGE__"';

/** Values of every wrong (and some right but hostile) type, as JSON texts. */
function hostileValues(): string[] {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const deepObj = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  return [
    'null', 'true', 'false', '0', '-1', '1.5', '-0', '1e308', '-1e308', HUGE, NEG_HUGE, BIG, '2e-400',
    '""', JSON.stringify('x'.repeat(70_000)), '"\\u0000"', JSON.stringify('a\u0000b'), '"\\ud800"', '"\\udfff\\ud800"',
    JSON.stringify('🔥'.repeat(50)), '"$(reboot)"', '"../../../../etc/passwd"', '"SIGKILL"', '"-9"',
    '[]', '[1,"a",null]', '{}', '{"a":1}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}',
    deep(2000), deepObj(2000), '[' + '0,'.repeat(20_000) + '0]', '{"k":"' + 'v'.repeat(5000) + '"}',
  ];
}

function splice(json: string, rnd: () => number): string {
  return json
    .replace(/"__HUGE__"/g, () => '1e999')
    .replace(/"__NEG_HUGE__"/g, () => '-1e999')
    .replace(/"__BIG__"/g, () => '9'.repeat(300 + Math.floor(rnd() * 400)));
}

const METHODS: Record<string, string[]> = {
  'system.ping': [],
  'system.stats': [],
  'session.create': ['shell', 'env', 'working_dir', 'name', 'timeout_s', 'limits'],
  'session.list': [],
  'session.info': ['session_id'],
  'session.destroy': ['session_id', 'force'],
  'exec.run': ['session_id', 'command', 'timeout_s', 'stdin', 'env', 'idle_timeout_s'],
  'exec.stream': ['session_id', 'command', 'timeout_s', 'stdin', 'env', 'idle_timeout_s', 'stdin_open', 'kill_on_disconnect'],
  'exec.attach': ['exec_id', 'offsets'],
  'exec.cancel': ['exec_id', 'session_id', 'signal'],
  'exec.input': ['exec_id', 'data', 'eof'],
  'exec.list': ['session_id'],
};

/** A valid request of each method; `sid` is a real session (commands in it are harmless). */
function baseParams(method: string, sid: string): Record<string, unknown> {
  const fake = '00000000-0000-4000-8000-000000000000';
  switch (method) {
    case 'session.create':
      return { shell: '/bin/sh', env: { A: 'b' }, working_dir: '/tmp', name: 'fuzz', timeout_s: 5 };
    case 'session.info':
    case 'exec.list':
      return { session_id: sid };
    case 'session.destroy':
      return { session_id: fake, force: true };
    case 'exec.run':
    case 'exec.stream':
      return { session_id: sid, command: 'true', timeout_s: 5 };
    case 'exec.attach':
      return { exec_id: fake, offsets: { stdout: 0, stderr: 0 } };
    case 'exec.cancel':
      return { session_id: fake, signal: 'SIGTERM' };
    case 'exec.input':
      return { exec_id: fake, data: 'x', eof: true };
    default:
      return {};
  }
}

/**
 * Every (method, field, hostile value) combination, plus the envelope's own
 * fields (id, method, params) with every hostile value: "wrong types in every
 * field of every method".
 */
function* systematic(sid: string, rnd: () => number): Generator<Buffer> {
  const values = hostileValues();
  for (const method of Object.keys(METHODS)) {
    for (const field of METHODS[method]!) {
      for (const v of values) {
        const params = JSON.stringify({ ...baseParams(method, sid), [field]: '__SLOT__' }).replace('"__SLOT__"', v);
        yield Buffer.from(splice(`{"id":"f-${method}-${field}","method":"${method}","params":${params}}`, rnd));
      }
    }
    for (const v of values) {
      const base = JSON.stringify(baseParams(method, sid));
      yield Buffer.from(splice(`{"id":${v},"method":"${method}","params":${base}}`, rnd));
      yield Buffer.from(splice(`{"id":"f-params","method":"${method}","params":${v}}`, rnd));
    }
  }
  for (const v of values) yield Buffer.from(splice(`{"id":"f-method","method":${v},"params":{}}`, rnd));
}

/** One random hostile line (no newline inside). */
function randomLine(sid: string, rnd: () => number): Buffer {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const methods = Object.keys(METHODS);
  const valid = () => JSON.stringify({ id: `v${Math.floor(rnd() * 1e6)}`, method: pick(methods), params: baseParams(pick(methods), sid) });
  const kind = Math.floor(rnd() * 10);
  switch (kind) {
    case 0: {
      // random bytes
      const b = randomBytes(1 + Math.floor(rnd() * 400));
      return b;
    }
    case 1: {
      // truncated JSON
      const v = valid();
      return Buffer.from(v.slice(0, Math.floor(rnd() * v.length)));
    }
    case 2: {
      // deep nesting, bare or inside params
      const n = 1 + Math.floor(rnd() * 60_000);
      const deep = rnd() < 0.5 ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '0' + '}'.repeat(n);
      return Buffer.from(rnd() < 0.5 ? deep : `{"id":"deep","method":"${pick(methods)}","params":{"x":${deep}}}`);
    }
    case 3: {
      // huge numbers
      const num = pick(['1e999', '-1e999', '9'.repeat(1000), '0.' + '0'.repeat(1000) + '1', '1e-999', '-0', '123456789012345678901234567890']);
      return Buffer.from(`{"id":${pick([num, '"n"'])},"method":"${pick(methods)}","params":{"timeout_s":${num},"session_id":${num},"offsets":{"stdout":${num}}}}`);
    }
    case 4: {
      // huge strings
      const s = 'A'.repeat(Math.floor(rnd() * 300_000));
      return Buffer.from(JSON.stringify({ id: pick([s.slice(0, 300), 'hs']), method: pick([s, 'session.info']), params: { session_id: s, command: s } }));
    }
    case 5: {
      // NUL bytes, raw and escaped
      const v = Buffer.from(valid());
      const at = Math.floor(rnd() * v.length);
      return rnd() < 0.5
        ? Buffer.concat([v.subarray(0, at), Buffer.from([0, 0]), v.subarray(at)])
        : Buffer.from(`{"id":"nul\\u0000","method":"${pick(methods)}\\u0000","params":{"session_id":"\\u0000","command":"echo a\\u0000b","shell":"/bin/sh\\u0000x","name":"\\u0000"}}`);
    }
    case 6: {
      // invalid UTF-8 (in strings and outside), overlong encodings, lone surrogates
      const bad = pick([[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]]);
      const v = Buffer.from(valid());
      const at = Math.max(1, Math.floor(rnd() * v.length));
      return Buffer.concat([v.subarray(0, at), Buffer.from(bad), v.subarray(at)]);
    }
    case 7: {
      // structurally odd envelopes
      return Buffer.from(
        pick([
          '[]', '{}', 'null', '0', '"system.ping"', '{"id":"x"}', '{"method":"system.ping"}', '{"id":{},"method":"system.ping"}',
          '{"id":"x","method":"__proto__"}', '{"id":"x","method":"constructor"}', '{"id":"x","method":"toString"}', '{"id":"x","method":"hasOwnProperty"}',
          '{"id":"x","method":"system.ping","params":[]}', '{"id":"x","method":"system.ping","params":"x"}', '{"id":"x","method":"system.ping","__proto__":{"ok":1}}',
          '{"id":"dup","id":"dup2","method":"system.ping","method":"system.stats"}', '   ', '\t{"id":"ws","method":"system.ping"}\t', '\u00a0', '{"id":"x","method":""}',
          '{"id":"x","method":"SYSTEM.PING"}', '{"id":"x","method":"system.ping "}', '{"id":"x","method":"system..ping"}', '{"id":"x"' + ',"a":1'.repeat(20_000) + '}',
        ]),
      );
    }
    case 8: {
      // a valid request of a random method with one field of a random hostile value
      const m = pick(methods);
      const fields = METHODS[m]!;
      if (fields.length === 0) return Buffer.from(valid());
      const params = JSON.stringify({ ...baseParams(m, sid), [pick(fields)]: '__SLOT__' }).replace('"__SLOT__"', pick(hostileValues()));
      return Buffer.from(splice(`{"id":"r","method":"${m}","params":${params}}`, rnd));
    }
    default: {
      // random printable soup with JSON punctuation
      const alphabet = '{}[]":,\\ntrufalsenull0123456789.eE+-"\\u';
      let s = '';
      const n = 1 + Math.floor(rnd() * 300);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      return Buffer.from(s);
    }
  }
}

/** Whether the daemon must answer this line: it is not blank once one trailing CR is dropped. */
function answerable(line: Buffer): boolean {
  const len = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
  return len > 0;
}

function clean(line: Buffer): Buffer {
  for (let i = 0; i < line.length; i++) if (line[i] === 10) line[i] = 32;
  return line;
}

export interface FuzzResult {
  lines: number;
  bytes: number;
  connections: number;
  expectedAnswers: number;
  answers: number;
  pings: number;
  pingsAnswered: number;
  internalErrors: number;
  codes: Record<string, number>;
  enormous: { sent: number; bytesEach: number[]; answeredWithError: number; closedByDaemon: number };
  rss: { beforeMiB: number; peakMiB: number; afterMiB: number };
  fds: { before: number; after: number };
  connectionsAfter: number;
  wallMs: number;
  crashed: boolean;
}

/**
 * Sends `total` hostile lines over `conns` connections (a ping every 10th
 * line), then `enormous` lines longer than the daemon's TRL_MAX_REQUEST_BYTES.
 */
export async function fuzzScenario(
  d: TestDaemon,
  opts: { total: number; conns: number; enormous: number[]; seed: number; maxRequestBytes: number },
): Promise<FuzzResult> {
  const rnd = prng(opts.seed);
  const ctl = await RawWire.open(d.socketPath);
  const sid = await createSession(ctl);
  await sleep(200);
  const s0 = await stats(ctl);
  const rssBefore = rssOf(d.pid);
  const sampler = rssSampler(d.pid);
  const t0 = performance.now();

  // Build the lines: the systematic set first, then random ones up to the total.
  const lines: Buffer[] = [];
  // Lines of the main phase stay under the request limit (one over it closes the
  // connection, which the enormous phase tests on its own): a longer one is cut, i.e. truncated.
  const fit = (l: Buffer) => clean(l.length < opts.maxRequestBytes ? l : l.subarray(0, opts.maxRequestBytes - 1));
  for (const l of systematic(sid, rnd)) {
    if (lines.length >= opts.total) break;
    lines.push(fit(l));
  }
  while (lines.length < opts.total) lines.push(fit(randomLine(sid, rnd)));

  const codes: Record<string, number> = {};
  let expectedAnswers = 0;
  let answers = 0;
  let pings = 0;
  let pingsAnswered = 0;
  let internalErrors = 0;
  let bytes = 0;
  const per = Math.ceil(lines.length / opts.conns);
  await Promise.all(
    Array.from({ length: opts.conns }, async (_, c) => {
      const mine = lines.slice(c * per, (c + 1) * per);
      const w = await RawWire.open(d.socketPath);
      let expected = 0;
      const pingIds: string[] = [];
      // Batches of lines written at once, so the daemon sees lines split anywhere across reads.
      let batch: Buffer[] = [];
      const flush = async () => {
        const buf = Buffer.concat(batch);
        batch = [];
        bytes += buf.length;
        if (!w.write(buf) && !w.ended) {
          await new Promise<void>((r) => {
            w.socket.once('drain', () => r());
            w.onEnd(r);
          });
        }
      };
      for (let i = 0; i < mine.length; i++) {
        if (answerable(mine[i]!)) expected++;
        batch.push(mine[i]!, Buffer.from('\n'));
        if (i % 10 === 9) {
          const id = `fuzzping-${c}-${i}`;
          pingIds.push(id);
          expected++;
          batch.push(Buffer.from(JSON.stringify({ id, method: 'system.ping' }) + '\n'));
        }
        if (batch.length >= 16) await flush();
      }
      const lastId = `fuzzping-${c}-last`;
      pingIds.push(lastId);
      expected++;
      batch.push(Buffer.from(JSON.stringify({ id: lastId, method: 'system.ping' }) + '\n'));
      // A truncated request left without its newline when the client closes: no answer is due.
      batch.push(Buffer.from('{"id":"never","method":"system.pi'));
      await flush();
      w.socket.end();
      await w.endedWithin(120_000);
      await waitFor(() => w.answerCount >= expected, 2000, 20);
      expectedAnswers += expected;
      answers += w.answerCount;
      pings += pingIds.length;
      for (const id of pingIds) if (w.answers.get(id)?.length === 1 && w.answers.get(id)![0].ok === true) pingsAnswered++;
      for (const list of w.answers.values()) {
        for (const m of list) {
          if (m.ok === false) {
            codes[m.error?.code] = (codes[m.error?.code] ?? 0) + 1;
            if (m.error?.code === 'INTERNAL_ERROR') internalErrors++;
            assert.equal(typeof m.error?.message, 'string', `error without message: ${JSON.stringify(m).slice(0, 300)}`);
          } else {
            assert.equal(m.ok, true, `a response without ok: ${JSON.stringify(m).slice(0, 300)}`);
            codes.ok = (codes.ok ?? 0) + 1;
          }
        }
      }
      assert.deepEqual(w.garbage, [], 'every line the daemon sent is JSON');
      w.close();
    }),
  );

  // Lines beyond TRL_MAX_REQUEST_BYTES, each on its own connection, after a ping.
  let answeredWithError = 0;
  let closedByDaemon = 0;
  await Promise.all(
    opts.enormous.map(async (size, k) => {
      const w = await RawWire.open(d.socketPath);
      const pid = `enormous-ping-${k}`;
      const pong = w.request(pid, 'system.ping');
      const body = Buffer.alloc(size, k % 2 === 0 ? 0x61 : 0xff); // ASCII, or invalid UTF-8
      body.write('{"id":"big","method":"system.ping","params":{"x":"', 0);
      w.write(body);
      if (k % 3 !== 2) w.write('"}}\n');
      assert.equal((await pong).ok, true);
      const ended = await w.endedWithin(30_000);
      const err = w.answers.get('unknown')?.[0];
      if (err && err.ok === false && err.error.code === 'INVALID_PARAMS') answeredWithError++;
      if (ended) closedByDaemon++;
      w.close();
    }),
  );
  const wallMs = performance.now() - t0;
  const crashed = d.child.exitCode !== null || d.child.signalCode !== null || !isAlive(d.pid);
  // Connections of the fuzzers are gone from the daemon's view; fds back to the baseline.
  await waitFor(async () => (await stats(ctl)).connections === 1, 10_000, 100);
  await sleep(500);
  const s1 = await stats(ctl);
  const peak = sampler.stop();
  await ctl.request(nextId('d'), 'session.destroy', { session_id: sid, force: true });
  ctl.close();
  return {
    lines: lines.length,
    bytes,
    connections: opts.conns,
    expectedAnswers,
    answers,
    pings,
    pingsAnswered,
    internalErrors,
    codes,
    enormous: { sent: opts.enormous.length, bytesEach: opts.enormous, answeredWithError, closedByDaemon },
    rss: { beforeMiB: mib(rssBefore), peakMiB: mib(peak), afterMiB: mib(rssOf(d.pid)) },
    fds: { before: s0.open_fds, after: s1.open_fds },
    connectionsAfter: s1.connections,
    wallMs,
    crashed,
  };
}

/** The checks both runs make on a fuzz result. */
export function assertFuzz(r: FuzzResult, rssBudgetBytes: number): void {
  assert.equal(r.crashed, false, 'the daemon survived');
  assert.equal(r.internalErrors, 0, 'no INTERNAL_ERROR');
  assert.equal(r.pingsAnswered, r.pings, 'every interleaved ping answered ok, exactly once');
  assert.equal(r.answers, r.expectedAnswers, 'every complete line answered exactly once');
  assert.equal(r.enormous.answeredWithError, r.enormous.sent, 'every over-long line got an INVALID_PARAMS answer');
  assert.equal(r.enormous.closedByDaemon, r.enormous.sent, 'every over-long line closed its connection');
  assert.equal(r.connectionsAfter, 1, 'the daemon holds no connection of the fuzzers afterwards');
  assert.ok(r.fds.after <= r.fds.before + 2, `open fds back to the baseline: before ${r.fds.before}, after ${r.fds.after}`);
  assert.ok((r.rss.peakMiB - r.rss.beforeMiB) * 1048576 < rssBudgetBytes, `RSS bounded: ${JSON.stringify(r.rss)}`);
}
