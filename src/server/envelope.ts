import { ErrorCode, errorEnvelope } from '../protocol/errors';
import { RequestEnvelope } from '../protocol/messages';

type Id = string | number;

/** A request's parts, as every door hands them to the router. */
export interface Envelope {
  id: Id;
  method: string;
  params: unknown;
}

export type ParsedEnvelope = ({ ok: true } & Envelope) | { ok: false; response: object };

/** How a door names one request in its error answers: a socket line or an HTTP body. */
export interface EnvelopeWording {
  /** `request` or `request body`. */
  noun: string;
  /** What to send instead of something that is not JSON. */
  hint: string;
}

export const LINE_WORDING: EnvelopeWording = { noun: 'request', hint: 'send one JSON object per line' };
export const BODY_WORDING: EnvelopeWording = { noun: 'request body', hint: 'send one JSON object' };

/** One request's text, parsed: the envelope's parts, or the error answer to send instead. Every door parses through here. */
export function parseEnvelope(text: string, wording: EnvelopeWording): ParsedEnvelope {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (err) {
    return {
      ok: false,
      response: errorEnvelope('unknown', ErrorCode.INVALID_PARAMS, `${wording.noun} is not valid JSON (${(err as Error).message}); ${wording.hint}`),
    };
  }
  // The common case, checked by hand: the schema is there for the message when something is off.
  if (isPlainEnvelope(message)) return { ok: true, id: message.id, method: message.method, params: message.params };
  const envelope = RequestEnvelope.safeParse(message);
  if (!envelope.success) {
    const what = envelope.error.issues.map((i) => (i.path.length ? i.path.join('.') : 'request')).join(', ');
    return {
      ok: false,
      response: errorEnvelope(idOf(message), ErrorCode.INVALID_PARAMS, `malformed request: ${what} missing or of the wrong type; expected {"id": string, "method": string, "params": object}`),
    };
  }
  return { ok: true, id: envelope.data.id, method: envelope.data.method, params: envelope.data.params };
}

/** The id to answer a malformed request with: its own when usable, else 'unknown'. */
export function idOf(message: unknown): Id {
  if (message && typeof message === 'object' && 'id' in message) {
    const id = (message as { id: unknown }).id;
    if ((typeof id === 'string' && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return 'unknown';
}

/** What RequestEnvelope accepts, for the usual request: a short string id, a method, params an object or absent. */
function isPlainEnvelope(m: unknown): m is { id: string; method: string; params?: Record<string, unknown> | null } {
  if (typeof m !== 'object' || m === null) return false;
  const { id, method, params } = m as Record<string, unknown>;
  return (
    typeof id === 'string' &&
    id.length <= 256 &&
    typeof method === 'string' &&
    method.length <= 128 &&
    (params === undefined || params === null || (typeof params === 'object' && !Array.isArray(params)))
  );
}
