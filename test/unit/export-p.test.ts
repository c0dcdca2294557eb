import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseExportP } from '../../src/exec/export-p';

/** Values that stress every quoting style dash and bash use in `export -p`. */
const HOSTILE: Record<string, string> = {
  SQ: "it's 'quoted'",
  DQ: 'a"b"c',
  DOLLAR: '$HOME ${x} $(id) `id`',
  BACKSLASH: 'C:\\path\\to\\n not a newline \\',
  NEWLINES: 'line1\nline2\n\nline4\n',
  TABS_CR: 'a\tb\rc\u0007d\u001be',
  UNICODE: 'ünïcödé — 日本語 🙂',
  EMPTY: '',
  EQUALS: 'a=b=c',
  SPACES: '  leading and trailing  ',
  PARENS: '(not an array) [0]=x',
  LONG: 'x'.repeat(100_000),
};

for (const shell of ['/bin/dash', '/bin/bash']) {
  for (const lang of ['C', 'C.UTF-8']) {
    test(`parseExportP reads ${shell}'s export -p exactly (LANG=${lang})`, { skip: !existsSync(shell) && `${shell} not installed` }, () => {
      const r = spawnSync(shell, ['-c', 'export UNSET_BUT_EXPORTED; export -p'], { env: { ...HOSTILE, LANG: lang, PATH: '/usr/bin:/bin' } });
      assert.equal(r.status, 0, r.stderr.toString());
      const env = parseExportP(r.stdout);
      for (const [name, value] of Object.entries(HOSTILE)) assert.equal(env[name], value, `${name} via ${shell}`);
      assert.equal('UNSET_BUT_EXPORTED' in env, false, 'an exported but unset name has no value to carry');
    });
  }
}

test('parseExportP skips bash arrays and non-exported declarations, and lines it does not know', () => {
  const text = Buffer.from(
    'declare -ax ARR=([0]="a b" [1]="c)d")\ndeclare -x KEEP="1"\ndeclare -- LOCAL="no"\nnoise line\ndeclare -rx RO="r"\nexport D=\'d\'\n',
  );
  assert.deepEqual(parseExportP(text), { KEEP: '1', RO: 'r', D: 'd' });
});
