import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandUserError, resolveCommandUser } from '../../src/exec/command-user';

function accounts(passwd: string, group: string) {
  const dir = mkdtempSync(join(tmpdir(), 'trl-accounts-'));
  writeFileSync(join(dir, 'passwd'), passwd);
  writeFileSync(join(dir, 'group'), group);
  return { files: { passwd: join(dir, 'passwd'), group: join(dir, 'group') }, done: () => rmSync(dir, { recursive: true }) };
}

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ntrl:x:990:990::/nonexistent:/usr/sbin/nologin\nagent:x:1001:1001::/home/agent:/bin/sh\n';
const GROUP = 'root:x:0:\nagent:x:1001:\ndocker:x:998:agent,bob\nusers:x:100:bob\nstaff:x:50:agent\n';

test('a command user: uid, primary gid and every group that lists it', () => {
  const a = accounts(PASSWD, GROUP);
  try {
    const u = resolveCommandUser('agent', 990, a.files);
    assert.deepEqual({ ...u, groups: [...u.groups].sort((x, y) => x - y) }, { name: 'agent', uid: 1001, gid: 1001, groups: [50, 998, 1001] });
  } finally {
    a.done();
  }
});

test('a command user that does not exist, is root, or is the daemon itself is refused, naming the setting', () => {
  const a = accounts(PASSWD, GROUP);
  try {
    assert.throws(() => resolveCommandUser('nobody-here', 990, a.files), (e: Error) => e instanceof CommandUserError && /TRL_COMMAND_USER=nobody-here: no such user/.test(e.message));
    assert.throws(() => resolveCommandUser('root', 990, a.files), /that is root/);
    assert.throws(() => resolveCommandUser('trl', 990, a.files), /the daemon's own user/);
    // A prefix of a name is not the name.
    assert.throws(() => resolveCommandUser('age', 990, a.files), /no such user/);
  } finally {
    a.done();
  }
});
