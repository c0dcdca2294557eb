import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOutcome, type RunFacts } from '../../src/exec/outcome';

const text = { text: '', truncated: false, bytes: 0 };
const facts = (over: Partial<RunFacts>): RunFacts => ({
  exit: { code: 0, signal: null },
  reportedCode: null,
  durationMs: 5,
  timeout: null,
  cancelSignal: null,
  cpuLimited: false,
  usage: null,
  stdout: text,
  stderr: text,
  ...over,
});

test('the cgroup OOM killer is named only when nothing else ended the command', () => {
  const usage = { cpuUsageUs: 12_345, memoryPeakBytes: 4096, oomKilled: true };
  const oom = buildOutcome(facts({ exit: { code: null, signal: 'SIGKILL' }, usage }));
  assert.equal(oom.endedBy, 'oom');
  assert.equal(oom.exitCode, 137);
  assert.equal(oom.cpuTimeMs, 12);
  assert.equal(oom.memoryPeakBytes, 4096);
  assert.equal(buildOutcome(facts({ exit: { code: null, signal: 'SIGKILL' }, usage, timeout: 'wall' })).endedBy, 'timeout');
  assert.equal(buildOutcome(facts({ exit: { code: null, signal: 'SIGKILL' }, usage, cancelSignal: 'SIGKILL' })).endedBy, 'cancel');
});

test('SIGXCPU is the CPU limit only when RLIMIT_CPU was set; the trap-reported code counts when no signal ended the shell', () => {
  assert.equal(buildOutcome(facts({ exit: { code: null, signal: 'SIGXCPU' }, cpuLimited: true })).endedBy, 'cpu_limit');
  assert.equal(buildOutcome(facts({ exit: { code: 0, signal: null }, reportedCode: 152, cpuLimited: true })).endedBy, 'cpu_limit');
  assert.equal(buildOutcome(facts({ exit: { code: null, signal: 'SIGXCPU' } })).endedBy, null);
  const plain = buildOutcome(facts({ exit: { code: 0, signal: null }, reportedCode: 3 }));
  assert.equal(plain.exitCode, 3);
  assert.equal(plain.cpuTimeMs, null);
  assert.equal(plain.memoryPeakBytes, null);
});
