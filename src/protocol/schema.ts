/**
 * The schemas of the daemon's requests, settings and ledger: the part of
 * zod's API that trl uses, with zod 4's behaviour and its English messages
 * word for word (`test/unit/schema.test.ts` holds them), so the wire and
 * every error a client sees stay as they were. zod itself took a third of
 * the daemon's bundle, 35–50 ms of a start with the code cache and about
 * 7 MB of its idle memory (docs/dependencies.md); `trl mcp` keeps zod, which
 * the MCP SDK takes its tool schemas in.
 *
 * Import it as zod is imported (`import * as z from './schema'`): `z.object`,
 * `z.infer<typeof S>`, `S.safeParse(input)`.
 */

/** One thing wrong with the input, at `path` (object keys, from the top). */
export interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  /** invalid_key: what is wrong with the key. */
  issues?: Issue[];
}

/** An issue while parsing: `abort` stops the checks and refinements after it (zod's `continue: false`). */
interface RawIssue extends Issue {
  abort?: boolean;
}

/** The issues as a caller sees them: without the parse's own flag. */
const finished = (issues: RawIssue[]): Issue[] => issues.map(({ abort: _, ...issue }) => issue);

export class SchemaError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
    this.name = 'SchemaError';
  }
}

export type SafeParse<O> = { success: true; data: O; error?: undefined } | { success: false; error: SchemaError; data?: undefined };

/** What a custom refinement reports. */
export interface CustomIssue {
  code: 'custom';
  message: string;
  path?: PropertyKey[];
}

type Check<T> = (value: T, path: PropertyKey[], issues: RawIssue[]) => void;

/** A schema whose parse gives an O from an I. */
export abstract class Schema<O = unknown, I = O> {
  declare readonly _output: O;
  declare readonly _input: I;

  /**
   * The value parsed (undefined if it failed); what is wrong goes to
   * `issues`. `path` is where the value sits, a stack the object and record
   * schemas push their keys on and pop: an issue takes a copy, so a valid
   * request allocates no paths.
   */
  abstract run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown;

  safeParse(input: unknown): SafeParse<O> {
    const issues: RawIssue[] = [];
    const data = this.run(input, [], issues);
    if (issues.length === 0) return { success: true, data: data as O };
    return { success: false, error: new SchemaError(finished(issues)) };
  }

  parse(input: unknown): O {
    const r = this.safeParse(input);
    if (!r.success) throw r.error;
    return r.data;
  }

  optional(): Schema<O | undefined, I | undefined> {
    return new Maybe<O | undefined, I | undefined>(this, false);
  }

  nullish(): Schema<O | null | undefined, I | null | undefined> {
    return new Maybe<O | null | undefined, I | null | undefined>(this, true);
  }

  default(value: Exclude<O, undefined>): Schema<Exclude<O, undefined>, I | undefined> {
    return new Default<Exclude<O, undefined>, I | undefined>(this, value);
  }

  transform<T>(fn: (value: O) => T): Schema<T, I> {
    return new Transform(this, fn);
  }

  refine(ok: (value: O) => unknown, how: string | { message: string; path?: PropertyKey[] }): Schema<O, I> {
    const { message, path: at = [] } = typeof how === 'string' ? { message: how } : how;
    return new Refined(this, (value, path, issues) => {
      if (!ok(value)) issues.push({ code: 'custom', path: [...path, ...at], message });
    });
  }

  superRefine(fn: (value: O, ctx: { addIssue(issue: CustomIssue): void }) => void): Schema<O, I> {
    return new Refined(this, (value, path, issues) =>
      fn(value, { addIssue: (issue) => issues.push({ code: issue.code, path: [...path, ...(issue.path ?? [])], message: issue.message }) }),
    );
  }
}

export type infer<S extends Schema<unknown, unknown>> = S['_output'];
export type input<S extends Schema<unknown, unknown>> = S['_input'];

/** Whether an issue since `from` stops what follows. */
const aborted = (issues: RawIssue[], from: number): boolean => {
  for (let i = from; i < issues.length; i++) if (issues[i]!.abort) return true;
  return false;
};

class Maybe<O, I> extends Schema<O, I> {
  constructor(
    private readonly inner: Schema<unknown, unknown>,
    private readonly nullable: boolean,
  ) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    if (input === undefined || (this.nullable && input === null)) return input;
    return this.inner.run(input, path, issues);
  }
}

class Default<O, I> extends Schema<O, I> {
  constructor(
    private readonly inner: Schema<unknown, unknown>,
    private readonly value: O,
  ) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    return input === undefined ? this.value : this.inner.run(input, path, issues);
  }
}

class Transform<O, I, T> extends Schema<T, I> {
  constructor(
    private readonly inner: Schema<O, I>,
    private readonly fn: (value: O) => T,
  ) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    const from = issues.length;
    const value = this.inner.run(input, path, issues);
    return issues.length > from ? undefined : this.fn(value as O);
  }
}

/** A refinement after the inner schema's parse, unless that aborted. */
class Refined<O, I> extends Schema<O, I> {
  constructor(
    private readonly inner: Schema<O, I>,
    private readonly check: Check<O>,
  ) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    const from = issues.length;
    const value = this.inner.run(input, path, issues);
    if (!aborted(issues, from)) this.check(value as O, path, issues);
    return value;
  }
}

/** A value of one type, then its checks in order; an aborting check stops the rest. */
abstract class Checked<T> extends Schema<T> {
  constructor(protected readonly checks: readonly Check<T>[] = []) {
    super();
  }

  protected abstract accept(input: unknown): T | undefined;
  protected abstract readonly expected: string;
  protected abstract with(checks: readonly Check<T>[]): this;

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    const value = this.accept(input);
    if (value === undefined) {
      issues.push(invalidType(this.expected, input, path));
      return undefined;
    }
    const from = issues.length;
    for (const check of this.checks) {
      if (aborted(issues, from)) break;
      check(value, path, issues);
    }
    return value;
  }

  protected add(check: Check<T>): this {
    return this.with([...this.checks, check]);
  }
}

class StringSchema extends Checked<string> {
  protected readonly expected = 'string';

  protected accept(input: unknown): string | undefined {
    return typeof input === 'string' ? input : undefined;
  }

  protected with(checks: readonly Check<string>[]): this {
    return new StringSchema(checks) as this;
  }

  min(n: number, message?: string): this {
    return this.add((v, path, issues) => {
      if (v.length < n) issues.push({ code: 'too_small', path: path.slice(), message: message ?? `Too small: expected string to have >=${n} characters` });
    });
  }

  max(n: number, message?: string): this {
    return this.add((v, path, issues) => {
      if (v.length > n) issues.push({ code: 'too_big', path: path.slice(), message: message ?? `Too big: expected string to have <=${n} characters` });
    });
  }

  regex(pattern: RegExp): this {
    return this.add((v, path, issues) => {
      pattern.lastIndex = 0;
      if (!pattern.test(v)) issues.push({ code: 'invalid_format', path: path.slice(), message: `Invalid string: must match pattern ${pattern}` });
    });
  }
}

class NumberSchema extends Checked<number> {
  protected readonly expected = 'number';

  constructor(
    checks: readonly Check<number>[] = [],
    private readonly coerce = false,
  ) {
    super(checks);
  }

  protected accept(input: unknown): number | undefined {
    return typeof input === 'number' && Number.isFinite(input) ? input : undefined;
  }

  override run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    return super.run(this.coerce ? toNumber(input) : input, path, issues);
  }

  protected with(checks: readonly Check<number>[]): this {
    return new NumberSchema(checks, this.coerce) as this;
  }

  /** An integer within ±(2^53 - 1): a fraction aborts, an integer beyond the safe range does not. */
  int(): this {
    return this.add((v, path, issues) => {
      if (!Number.isInteger(v)) issues.push({ ...invalidType('int', v, path), abort: true });
      else if (v > Number.MAX_SAFE_INTEGER) issues.push({ code: 'too_big', path: path.slice(), message: `Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}` });
      else if (v < Number.MIN_SAFE_INTEGER) issues.push({ code: 'too_small', path: path.slice(), message: `Too small: expected int to be >=${Number.MIN_SAFE_INTEGER}` });
    });
  }

  min(n: number, message?: string): this {
    return this.bound(n, true, false, message);
  }

  nonnegative(): this {
    return this.bound(0, true, false);
  }

  positive(): this {
    return this.bound(0, false, false);
  }

  max(n: number, message?: string): this {
    return this.bound(n, true, true, message);
  }

  private bound(n: number, inclusive: boolean, upper: boolean, message?: string): this {
    const sign = (upper ? '<' : '>') + (inclusive ? '=' : '');
    return this.add((v, path, issues) => {
      const ok = upper ? (inclusive ? v <= n : v < n) : inclusive ? v >= n : v > n;
      if (!ok) issues.push({ code: upper ? 'too_big' : 'too_small', path: path.slice(), message: message ?? `${upper ? 'Too big' : 'Too small'}: expected number to be ${sign}${n}` });
    });
  }
}

/** zod's coercion: Number(input), or the input as it was where that throws (a Symbol). */
function toNumber(input: unknown): unknown {
  try {
    return Number(input);
  } catch {
    return input;
  }
}

class BooleanSchema extends Schema<boolean> {
  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    if (typeof input === 'boolean') return input;
    issues.push(invalidType('boolean', input, path));
    return undefined;
  }
}

class UnknownSchema extends Schema<unknown> {
  run(input: unknown): unknown {
    return input;
  }
}

class OneOf<T extends string> extends Schema<T> {
  constructor(private readonly values: readonly T[]) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    if ((this.values as readonly unknown[]).includes(input)) return input;
    const message =
      this.values.length === 1 ? `Invalid input: expected ${JSON.stringify(this.values[0])}` : `Invalid option: expected one of ${this.values.map((v) => JSON.stringify(v)).join('|')}`;
    issues.push({ code: 'invalid_value', path: path.slice(), message, abort: true });
    return undefined;
  }
}

type UnionOut<T extends readonly Schema<unknown, unknown>[]> = T[number]['_output'];
type UnionIn<T extends readonly Schema<unknown, unknown>[]> = T[number]['_input'];

/** The first option that parses; else the one option that got past its type (its issues), else "Invalid input". */
class Union<T extends readonly Schema<unknown, unknown>[]> extends Schema<UnionOut<T>, UnionIn<T>> {
  constructor(private readonly options: T) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    const failed: RawIssue[][] = [];
    for (const option of this.options) {
      const own: RawIssue[] = [];
      const value = option.run(input, path, own);
      if (own.length === 0) return value;
      if (!aborted(own, 0)) failed.push(own);
    }
    if (failed.length === 1) issues.push(...failed[0]!);
    else issues.push({ code: 'invalid_union', path: path.slice(), message: 'Invalid input', abort: true });
    return undefined;
  }
}

const isObject = (input: unknown): input is Record<string, unknown> => typeof input === 'object' && input !== null && !Array.isArray(input);
/** A record is what JSON gives: an object of no class. */
const isPlainObject = (input: unknown): input is Record<string, unknown> => {
  if (!isObject(input)) return false;
  const proto = Object.getPrototypeOf(input) as unknown;
  return proto === Object.prototype || proto === null;
};

/** Where a record's key is parsed: its issues go inside the record's invalid_key issue, pathless. */
const KEY_PATH: PropertyKey[] = [];

/** A record's key that would set the prototype of the parsed object is left out, as zod leaves it. */
const UNSAFE_KEY = '__proto__';

class RecordSchema<K extends string, V, VI> extends Schema<Record<K, V>, Record<K, VI>> {
  constructor(
    private readonly key: Schema<K, unknown>,
    private readonly value: Schema<V, VI>,
  ) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    if (!isPlainObject(input)) {
      issues.push(invalidType('record', input, path));
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(input)) {
      if (k === UNSAFE_KEY) continue;
      const keyIssues: RawIssue[] = [];
      this.key.run(k, KEY_PATH, keyIssues);
      if (keyIssues.length > 0) {
        issues.push({ code: 'invalid_key', path: [...path, k], message: 'Invalid key in record', issues: finished(keyIssues), abort: true });
        continue;
      }
      path.push(k);
      out[k] = this.value.run(input[k], path, issues);
      path.pop();
    }
    return out;
  }
}

type Shape = Record<string, Schema<unknown, unknown>>;
/** Keys whose value may be undefined are optional, as zod makes them. */
type OptionalKeys<T> = { [K in keyof T]: undefined extends T[K] ? K : never }[keyof T];
type Flat<T> = { [K in keyof T]: T[K] };
type WithOptional<T> = Flat<{ [K in Exclude<keyof T, OptionalKeys<T>>]: T[K] } & { [K in OptionalKeys<T>]?: T[K] }>;
type ShapeOut<S extends Shape> = WithOptional<{ [K in keyof S]: S[K]['_output'] }>;
type ShapeIn<S extends Shape> = WithOptional<{ [K in keyof S]: S[K]['_input'] }>;

export class ObjectSchema<S extends Shape> extends Schema<ShapeOut<S>, ShapeIn<S>> {
  constructor(
    readonly shape: S,
    private readonly strict: boolean,
  ) {
    super();
  }

  /** The same object with more keys (after these). */
  extend<E extends Shape>(more: E): ObjectSchema<Flat<Omit<S, keyof E> & E>> {
    return new ObjectSchema({ ...this.shape, ...more } as unknown as Flat<Omit<S, keyof E> & E>, this.strict);
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    if (!isObject(input)) {
      issues.push(invalidType('object', input, path));
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(this.shape)) {
      path.push(key);
      const value = this.shape[key]!.run(input[key], path, issues);
      path.pop();
      if (value !== undefined || key in input) out[key] = value;
    }
    if (this.strict) {
      const unknown = Object.keys(input).filter((k) => !Object.hasOwn(this.shape, k));
      if (unknown.length > 0) {
        issues.push({ code: 'unrecognized_keys', path: path.slice(), message: `Unrecognized key${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')}` });
      }
    }
    return out;
  }
}

class Preprocess<O, I> extends Schema<O, unknown> {
  constructor(
    private readonly fn: (input: unknown) => unknown,
    private readonly inner: Schema<O, I>,
  ) {
    super();
  }

  run(input: unknown, path: PropertyKey[], issues: RawIssue[]): unknown {
    return this.inner.run(this.fn(input), path, issues);
  }
}

/** zod's type names for what was received: null, array, NaN, Infinity, or typeof. */
function received(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  if (typeof input === 'number' && !Number.isFinite(input)) return String(input);
  if (typeof input === 'object') {
    const proto = Object.getPrototypeOf(input) as { constructor?: { name?: string } } | null;
    if (proto !== null && proto !== Object.prototype && typeof proto.constructor?.name === 'string') return proto.constructor.name;
  }
  return typeof input;
}

function invalidType(expected: string, input: unknown, path: PropertyKey[]): RawIssue {
  return { code: 'invalid_type', path: path.slice(), message: `Invalid input: expected ${expected}, received ${received(input)}`, abort: true };
}

export const string = (): StringSchema => new StringSchema();
export const number = (): NumberSchema => new NumberSchema();
export const boolean = (): Schema<boolean> => new BooleanSchema();
export const unknown = (): Schema<unknown> => new UnknownSchema();
export const literal = <T extends string>(value: T): Schema<T> => new OneOf([value]);
// `enum` is a reserved word: exported under that name below.
const oneOf = <const T extends readonly [string, ...string[]]>(values: T): Schema<T[number]> => new OneOf(values);
export { oneOf as enum };
export const union = <T extends readonly [Schema<unknown, unknown>, ...Schema<unknown, unknown>[]]>(options: T): Schema<UnionOut<T>, UnionIn<T>> => new Union(options);
export const record = <K extends string, V, VI>(key: Schema<K, unknown>, value: Schema<V, VI>): Schema<Record<K, V>, Record<K, VI>> => new RecordSchema(key, value);
/** Unknown keys are left out of the result. */
export const object = <S extends Shape>(shape: S): ObjectSchema<S> => new ObjectSchema(shape, false);
/** Unknown keys are an issue. */
export const strictObject = <S extends Shape>(shape: S): ObjectSchema<S> => new ObjectSchema(shape, true);
export const preprocess = <O, I>(fn: (input: unknown) => unknown, inner: Schema<O, I>): Schema<O, unknown> => new Preprocess(fn, inner);
export const coerce = { number: (): NumberSchema => new NumberSchema([], true) };
