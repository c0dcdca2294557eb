import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startError } from '../../src/exec/start-error';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

test('no pseudo-terminal left (ENOSPC) is out of resources, named, with what to do', async () => {
  const e = await startError(errno('ENOSPC'), '/bin/sh', '/');
  assert.equal(e.code, 'out_of_resources');
  assert.match(e.message, /no pseudo-terminal left \(ENOSPC, kernel\.pty\.max\); retry later or run it without pty/);
});

test('a process or descriptor shortage is out of resources; an unknown errno is named as it is', async () => {
  assert.equal((await startError(errno('EAGAIN'), '/bin/sh', '/')).code, 'out_of_resources');
  assert.match((await startError(errno('ELOOP'), '/bin/sh', '/')).message, /cannot start \/bin\/sh: ELOOP/);
});
