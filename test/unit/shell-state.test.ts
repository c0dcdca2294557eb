import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EnvReportMemo, mergeAfterCommand, parseStateReport, type StateMode } from '../../src/exec/shell-state';
import { wrapCommand } from '../../src/exec/script';

const report = (...fields: string[]) => Buffer.from(fields.map((f) => f + '\0').join(''));

test('parseStateReport reads exit code, cwd and environment', () => {
  const r = parseStateReport(report('7', '/usr/share', 'X=1', 'PATH=/usr/bin:/bin', 'EMPTY='));
  assert.deepEqual(r, { exitCode: 7, state: { cwd: '/usr/share', env: { X: '1', PATH: '/usr/bin:/bin', EMPTY: '' } } });
});

test('parseStateReport keeps values holding "=", newlines and UTF-8', () => {
  const r = parseStateReport(report('0', '/tmp/dir with space', 'A=b=c', 'M=line1\nline2', 'U=日本€'));
  assert.deepEqual(r?.state, { cwd: '/tmp/dir with space', env: { A: 'b=c', M: 'line1\nline2', U: '日本€' } });
});

test('parseStateReport drops per-command variables (PWD, SHLVL, _, TRL_SESSION_ID, TRL_EXEC_ID)', () => {
  const r = parseStateReport(report('0', '/', 'PWD=/', 'SHLVL=1', '_=/usr/bin/env', 'TRL_SESSION_ID=s', 'TRL_EXEC_ID=e', 'KEEP=yes'));
  assert.deepEqual(r?.state.env, { KEEP: 'yes' });
});

test('parseStateReport skips entries without a name', () => {
  const r = parseStateReport(report('0', '/', '=oops', 'noequals', 'OK=1'));
  assert.deepEqual(r?.state.env, { OK: '1' });
});

test('parseStateReport refuses partial reports', () => {
  const full = report('0', '/usr', 'X=1', 'PATH=/bin');
  for (let cut = 0; cut < full.length; cut++) {
    const part = full.subarray(0, cut);
    // Only a prefix ending at a NUL after the cwd may look complete; it must then not invent values.
    const r = parseStateReport(part);
    if (r === null) continue;
    assert.equal(r.state.cwd, '/usr');
    if (r.state.env !== null) assert.equal(part[part.length - 1], 0, `cut at ${cut} gave an environment without a final NUL`);
    for (const [k, v] of Object.entries(r.state.env ?? {})) assert.ok(['X=1', 'PATH=/bin'].includes(`${k}=${v}`), `cut at ${cut}: ${k}=${v}`);
  }
  assert.equal(parseStateReport(Buffer.alloc(0)), null);
  assert.equal(parseStateReport(Buffer.from('0\0/us')), null, 'cut inside the cwd');
  assert.equal(parseStateReport(Buffer.from('0\0/usr\0X=1\0PA'))?.state.env, null, 'cut inside an entry: exit code and cwd only');
  assert.equal(parseStateReport(Buffer.from('3\0/usr\0X=1\0'), false)?.state.env, null, 'env did not succeed: no environment');
  assert.equal(parseStateReport(Buffer.from('3\0/usr\0'))?.exitCode, 3, 'env could not start: the exit code still counts');
  assert.equal(parseStateReport(Buffer.from('0\0')), null, 'exit code only');
});

test('parseStateReport refuses a report with a bad exit code or a relative cwd', () => {
  assert.equal(parseStateReport(report('x', '/usr')), null);
  assert.equal(parseStateReport(report('1.5', '/usr')), null);
  assert.equal(parseStateReport(report('0', 'usr')), null);
  assert.equal(parseStateReport(report('0', '')), null);
});

test('mergeAfterCommand without command env keeps what the command left', () => {
  const after = { A: '1', NEW: 'x' };
  assert.deepEqual(mergeAfterCommand({ A: '1' }, after, undefined), { A: '1', NEW: 'x' });
});

test('mergeAfterCommand: command-level variables do not persist', () => {
  const before = { S: 'session', KEEP: 'k' };
  const after = { S: 'command', C: 'command-only', KEEP: 'k' };
  assert.deepEqual(mergeAfterCommand(before, after, { S: 'command', C: 'command-only' }), { S: 'session', KEEP: 'k' });
});

test('mergeAfterCommand: a command that exports over its command-level variable keeps its export', () => {
  const after = { C: 'exported-by-command' };
  assert.deepEqual(mergeAfterCommand({}, after, { C: 'command-only' }), { C: 'exported-by-command' });
});

test('mergeAfterCommand: unset in the command persists', () => {
  assert.deepEqual(mergeAfterCommand({ GONE: 'x', A: '1' }, { A: '1' }, undefined), { A: '1' });
  assert.deepEqual(mergeAfterCommand({ GONE: 'x', A: '1' }, { A: '1' }, { OTHER: 'o' }), { A: '1' });
});

/** Runs a wrapped command in a real /bin/sh with fd 3 as the state pipe. */
function runWrapped(command: string, mode: StateMode = 'env', env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; state: Buffer }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', wrapCommand(command, '', mode)], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', KEEPME: 'k', ...env }, cwd: '/' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const st: Buffer[] = [];
    child.stdout!.on('data', (c) => out.push(c));
    child.stderr!.on('data', (c) => err.push(c));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (c: Buffer) => st.push(c));
    child.stdin!.end();
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), state: Buffer.concat(st) }),
    );
  });
}

test('wrapCommand + parseStateReport in a real shell: cd, export, unset and the exit code come back', async () => {
  const r = await runWrapped('cd /usr && export X=1; unset KEEPME; echo out; exit 7');
  assert.equal(r.stdout, 'out\n');
  const parsed = parseStateReport(r.state);
  assert.ok(parsed, `report: ${JSON.stringify(r.state.toString())}`);
  assert.equal(parsed.exitCode, 7);
  assert.equal(parsed.state.cwd, '/usr');
  assert.equal(parsed.state.env?.X, '1');
  assert.equal(parsed.state.env?.KEEPME, undefined);
});

test('wrapCommand: the user command cannot write into the state pipe', async () => {
  const r = await runWrapped('echo INJECTED >&3; echo fine');
  assert.equal(r.stdout, 'fine\n');
  assert.ok(!r.state.toString().includes('INJECTED'));
  const parsed = parseStateReport(r.state);
  assert.ok(parsed);
  assert.equal(parsed.state.cwd, '/');
});

for (const mode of ['env', 'export-p'] as const) {
  test(`wrapCommand (${mode}): two commands that leave the environment alone report the same bytes, though each has its own TRL_EXEC_ID`, async () => {
    const a = await runWrapped('true', mode, { TRL_EXEC_ID: '11111111-1111-4111-8111-111111111111', TRL_SESSION_ID: 's' });
    const b = await runWrapped('true', mode, { TRL_EXEC_ID: '22222222-2222-4222-8222-222222222222', TRL_SESSION_ID: 's' });
    assert.ok(a.state.includes('KEEPME'), `report: ${JSON.stringify(a.state.toString())}`);
    assert.ok(!a.state.includes('TRL_EXEC_ID'), 'the command\'s own id is not reported');
    assert.ok(a.state.equals(b.state), 'the session memo compares these bytes: equal ones are parsed once');
  });

  test(`wrapCommand (${mode}): a readonly TRL_EXEC_ID still gives a whole report and the command's exit code`, async () => {
    const r = await runWrapped('readonly TRL_EXEC_ID; export X=1; exit 3', mode, { TRL_EXEC_ID: 'e' });
    assert.equal(r.stderr, '');
    const parsed = parseStateReport(r.state, true, mode);
    assert.ok(parsed?.state.env, `report: ${JSON.stringify(r.state.toString())}`);
    assert.equal(parsed.exitCode, 3);
    assert.equal(parsed.state.env.X, '1');
    assert.equal(parsed.state.env.TRL_EXEC_ID, undefined);
  });
}

test('a session memo parses an environment report once per content and hands out copies', () => {
  const memo = new EnvReportMemo();
  const a = report('0', '/', 'X=1', 'PWD=/', 'Y=two');
  const first: Record<string, string> = parseStateReport(a, true, 'env', memo)!.state.env!;
  assert.equal(JSON.stringify(first), '{"X":"1","Y":"two"}');
  first.X = 'changed by the session';
  first.Z = 'added';
  const again = parseStateReport(Buffer.from(a), true, 'env', memo)!.state.env!;
  assert.deepEqual(again, { X: '1', Y: 'two' }, 'what a caller did to an earlier copy does not leak into the next');
  const changed = parseStateReport(report('0', '/tmp', 'X=1', 'Y=three'), true, 'env', memo)!;
  assert.deepEqual(changed.state, { cwd: '/tmp', env: { X: '1', Y: 'three' } });
  const exportP = parseStateReport(Buffer.from("0\0/\0export X='1'\nexport PWD='/'\n\0"), true, 'export-p', memo)!;
  assert.deepEqual(exportP.state.env, { X: '1' });
});
