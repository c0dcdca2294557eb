import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import * as zod from 'zod';
import * as z from '../../src/protocol/schema';
import { describeIssues, EnvMap, ExecCancelParams, ExecRunParams, RequestEnvelope, SessionCreateParams } from '../../src/protocol/messages';
import { ConfigSchema } from '../../src/config/schema';

/**
 * src/protocol/schema.ts against zod 4 itself (still a dependency, of `trl
 * mcp`): the same schemas built by each, the same inputs, the same outcome —
 * parsed data, or each issue's code, path and message — so replacing zod in
 * the daemon changed no answer and no error a client or operator sees.
 */

// Both libraries build the schema from one definition: the API trl uses is the same.
type Lib = typeof z;
const libs: [string, Lib][] = [
  ['ours', z],
  ['zod', zod as unknown as Lib],
];

const outcome = (r: { success: boolean; data?: unknown; error?: { issues: z.Issue[] } }) =>
  r.success ? { data: r.data } : { issues: r.error!.issues.map((i) => ({ code: i.code, path: i.path, message: i.message, inner: i.issues?.map((j) => j.message) })) };

function same(name: string, build: (z: Lib) => z.Schema<unknown, unknown>, inputs: unknown[]): void {
  const [ours, theirs] = libs.map(([, lib]) => build(lib));
  const differ = inputs.filter((input) => !isDeepStrictEqual(outcome(ours!.safeParse(input)), outcome(theirs!.safeParse(input) as never)));
  for (const input of differ) assert.deepEqual(outcome(ours!.safeParse(input)), outcome(theirs!.safeParse(input) as never), `${name}: ${String(input instanceof Object ? JSON.stringify(input) : String(input)).slice(0, 80)}`);
}

const odd = [undefined, null, true, 0, -0, 1.5, -1, NaN, Infinity, -Infinity, '', 'x', '12', ' 5 ', '0x10', '1e400', [], [1], {}, { a: 1 }, new Date(0), 2 ** 60, -(2 ** 60)];

test('types and checks: strings, numbers, booleans, literals and enums', () => {
  same('string', (z) => z.string(), odd);
  // zod also measures an array given for a bounded string ("expected array to have >=2 items"); ours stops at the type.
  same('string bounds', (z) => z.string().min(2).max(3), [...odd.filter((v) => !Array.isArray(v)), 'ab', 'abcd']);
  same('string bounds with messages, then a refinement', (z) => z.string().min(1, 'empty').max(4, 'long').refine((s) => !s.includes('='), 'no ='), ['', 'a=b', 'abcdef=', 'ok', 5]);
  same('regex', (z) => z.string().regex(/^[0-9]{1,20}$/), ['1', '', 'a1', '1'.repeat(21), 1]);
  same('number', (z) => z.number(), odd);
  same('int, nonnegative', (z) => z.number().int().nonnegative(), odd);
  same('int bounds', (z) => z.number().int().min(2).max(2 ** 22), [...odd, 2, 2 ** 22, 2 ** 22 + 1]);
  same('positive, max with message', (z) => z.number().positive().max(10, 'at most 10'), [...odd, 10, 10.5]);
  same('coerced', (z) => z.coerce.number().int().min(1).max(100), [...odd, '5', '1.5', '101', Symbol('s')]);
  same('boolean', (z) => z.boolean(), odd);
  same('literal', (z) => z.literal(''), ['', 'a', 0, null]);
  same('enum', (z) => z.enum(['head', 'tail', 'head_tail']), ['head', 'middle', 1, null, undefined]);
  same('unknown', (z) => z.unknown(), odd);
});

test('wrappers: optional, nullish, default, transform, preprocess, refinements', () => {
  same('optional', (z) => z.string().optional(), odd);
  same('nullish', (z) => z.number().nullish(), odd);
  same('default', (z) => z.coerce.number().min(0).default(7), [undefined, null, '', '3', '-1', 'x']);
  same('transform', (z) => z.number().nonnegative().transform((n) => n * 2), [2, -1, 'x']);
  same('preprocess', (z) => z.preprocess((v) => (v === 'yes' ? true : v), z.boolean()), ['yes', 'no', true, 1]);
  same('superRefine', (z) => z.record(z.string(), z.string()).superRefine((v, ctx) => {
    if (Object.keys(v).length > 1) ctx.addIssue({ code: 'custom', path: ['x'], message: 'one at most' });
  }), [{}, { a: 'b' }, { a: 'b', c: 'd' }, { a: 1, c: 'd' }]);
});

test('objects, records and unions: every field\'s issues, unknown keys, the one option that got past its type', () => {
  const shape = (z: Lib) => ({ a: z.string().min(1), b: z.number().int().nullish(), c: z.boolean().default(false) });
  same('object', (z) => z.object(shape(z)), [...odd, { a: 'x' }, { a: '', b: 1.5 }, { a: 'x', b: null, c: true, d: 1 }, { b: 'x' }, { a: 'x', b: undefined }]);
  same('strict object', (z) => z.strictObject(shape(z)), [{ a: 'x', d: 1 }, { a: 'x', d: 1, e: 2 }, { d: 1 }]);
  same('extended', (z) => z.object(shape(z)).extend({ e: z.enum(['p', 'q']).nullish() }), [{ a: 'x', e: 'p' }, { a: 'x', e: 'r' }]);
  same('object refined', (z) => z.object({ a: z.string().max(2).nullish(), b: z.string().nullish() }).refine((o) => o.a || o.b, { message: 'give a or b', path: ['a'] }), [{}, { a: 'x' }, { a: 'xyz' }, { a: 5 }, { b: 'y' }]);
  same('record', (z) => z.record(z.string().min(1, 'empty name'), z.string().refine((v) => !v.includes('\0'), 'no NUL')), [...odd, { '': 'x' }, { a: 'x\0' }, { a: 1 }, JSON.parse('{"__proto__":"v","a":"b"}')]);
  same('union', (z) => z.union([z.string().max(3), z.number()]), [...odd, 'abcd']);
  same('union of boolean and object', (z) => z.union([z.boolean(), z.object({ cols: z.number().int().min(1), rows: z.number().int().min(1) })]), [true, { cols: 0, rows: 1 }, { cols: 1.5, rows: 1 }, { cols: 1 }, 'x']);
});

test('the daemon\'s own schemas answer as zod did', () => {
  const bad = (r: { success: boolean; error?: z.SchemaError }) => describeIssues(r.error!, 'params');
  assert.equal(bad(ExecRunParams.safeParse({ session_id: '', pty: { cols: 0, rows: 1 } })), 'params.session_id: session_id must not be empty; params.command: Invalid input: expected string, received undefined; params.pty.cols: a terminal needs at least one column and one row');
  assert.equal(bad(SessionCreateParams.safeParse({ timeout_s: -1, env: { 'TOKEN=secret': 'x' } })), 'params.env."TOKEN" (the part before "="; rest not shown): an env name must not contain "=" or NUL (give the name alone as the key, the value as its value); params.timeout_s: Too small: expected number to be >=0');
  assert.equal(bad(ExecCancelParams.safeParse({ signal: 'X'.repeat(17) })), 'params.signal: Too big: expected string to have <=16 characters; params.exec_id: give exec_id or session_id');
  assert.equal(bad(RequestEnvelope.safeParse({ id: true, method: 1 })), 'params.id: Invalid input; params.method: Invalid input: expected string, received number');
  assert.match(bad(EnvMap.safeParse({ A: 'x'.repeat(128 * 1024) })), /^params\.A: this variable is 131075 bytes as NAME=VALUE/);
  assert.deepEqual(ExecRunParams.parse({ session_id: 's', command: 'c', pty: true, timeout_s: 0.0001, extra: 1 }), { session_id: 's', command: 'c', timeout_s: 0.001, pty: { cols: 80, rows: 24 } });
  const config = ConfigSchema.parse({ max_sessions: '5', allow_root: 'yes' });
  assert.equal(config.max_sessions, 5);
  assert.equal(config.allow_root, true);
  assert.equal(config.socket_path, '/tmp/trl.sock');
  assert.equal('runtime_dir' in config, false);
});
