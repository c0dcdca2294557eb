import { test } from 'node:test';
import assert from 'node:assert/strict';
import { excerpt, renderStream } from '../../src/mcp/excerpt';

test('a stream within the limit is shown whole', () => {
  assert.deepEqual(excerpt('hello\n', '', 6, 100), { head: 'hello\n', tail: '', omitted: 0 });
  assert.equal(renderStream('stdout', excerpt('hello\n', '', 6, 100), 6), 'stdout (6 bytes):\nhello');
  assert.equal(renderStream('stdout', excerpt('no newline', '', 10, 100), 10), 'stdout (10 bytes):\nno newline\n[no newline at end]');
  assert.equal(renderStream('stderr', excerpt('', '', 0, 100), 0), 'stderr: (empty)');
});

test('a whole stream over the limit: its first and last halves, and the exact count between', () => {
  const text = 'A'.repeat(10) + 'm'.repeat(1000) + 'Z'.repeat(10);
  const e = excerpt(text, '', 1020, 20);
  assert.deepEqual(e, { head: 'A'.repeat(10), tail: 'Z'.repeat(10), omitted: 1000 });
  assert.equal(renderStream('stdout', e, 1020), `stdout (1020 bytes, showing the first and last parts):\n${'A'.repeat(10)}\n[... 1000 bytes left out ...]\n${'Z'.repeat(10)}\n[no newline at end]`);
});

test('a daemon head and tail cut down further; the omitted count adds up to the total', () => {
  const head = 'H'.repeat(2048);
  const tail = 'T'.repeat(2048);
  const e = excerpt(head, tail, 1_000_000, 100);
  assert.equal(e.head, 'H'.repeat(50));
  assert.equal(e.tail, 'T'.repeat(50));
  assert.equal(e.omitted, 1_000_000 - 100);
});

test('cuts fall on character boundaries and the count stays exact', () => {
  const text = '€'.repeat(100); // 300 bytes
  const e = excerpt(text, '', 300, 20); // 10 bytes each side: 3 whole € (9 bytes) each
  assert.equal(e.head, '€€€');
  assert.equal(e.tail, '€€€');
  assert.equal(e.omitted, 300 - 18);
});
