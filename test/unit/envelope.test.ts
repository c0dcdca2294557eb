import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_WORDING, LINE_WORDING, parseEnvelope } from '../../src/server/envelope';

const EXPECTED = '{"id": string, "method": string, "params": object}';

test('a plain request and one the schema must check both come out as the same parts', () => {
  assert.deepEqual(parseEnvelope('{"id":"1","method":"system.ping"}', LINE_WORDING), { ok: true, id: '1', method: 'system.ping', params: undefined });
  assert.deepEqual(parseEnvelope('{"id":7,"method":"m","params":{"a":1}}', BODY_WORDING), { ok: true, id: 7, method: 'm', params: { a: 1 } });
});

test('not JSON: each door names what it read and what to send instead', () => {
  const line = parseEnvelope('not json', LINE_WORDING);
  const body = parseEnvelope('not json', BODY_WORDING);
  assert.equal(line.ok || body.ok, false);
  const message = (r: typeof line) => (r.ok ? '' : (r.response as { error: { message: string } }).error.message);
  assert.match(message(line), /^request is not valid JSON \(.+\); send one JSON object per line$/);
  assert.match(message(body), /^request body is not valid JSON \(.+\); send one JSON object$/);
  assert.equal((line as { response: { id: unknown } }).response.id, 'unknown');
});

test('a malformed envelope is answered with its own id when usable, naming the bad fields', () => {
  const r = parseEnvelope('{"id":"e-1","method":3}', BODY_WORDING);
  assert.deepEqual(r, {
    ok: false,
    response: { id: 'e-1', ok: false, error: { code: 'INVALID_PARAMS', message: `malformed request: method missing or of the wrong type; expected ${EXPECTED}` } },
  });
  const long = parseEnvelope(JSON.stringify({ id: 'x'.repeat(300), method: 'm' }), LINE_WORDING);
  assert.equal(!long.ok && (long.response as { id: unknown }).id, 'unknown');
  const array = parseEnvelope('[1,2]', LINE_WORDING);
  assert.equal(!array.ok && (array.response as { error: { message: string } }).error.message, `malformed request: request missing or of the wrong type; expected ${EXPECTED}`);
});
