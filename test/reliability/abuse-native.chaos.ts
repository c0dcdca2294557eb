/**
 * Abuse, native layer: what a hostile command (the daemon's own uid) tries
 * against the daemon's process, and what held. Run by `make chaos`; each case
 * prints `# figure: …` lines with what it tried and the outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TestDaemon } from '../helpers/daemon';
import { newSession, run } from '../helpers/requests';
import { figure } from './lib';

/** Each probe: a shell line a command would run; exit 0 means it got in. */
const probes = (pid: number): Record<string, string> => ({
  'read /proc/<daemon>/environ': `cat /proc/${pid}/environ`,
  'read /proc/<daemon>/mem': `head -c 1 /proc/${pid}/mem`,
  'list /proc/<daemon>/fd': `ls /proc/${pid}/fd/`,
  'open a socket through /proc/<daemon>/fd': `for f in /proc/${pid}/fd/*; do cat "$f" </dev/null & done 2>/dev/null; wait; ls /proc/${pid}/fd/ >/dev/null`,
  'read /proc/<daemon>/maps': `cat /proc/${pid}/maps`,
  'read /proc/<daemon>/auxv': `cat /proc/${pid}/auxv`,
  'ptrace attach (python ctypes)': `python3 -c "import ctypes,sys; l=ctypes.CDLL(None, use_errno=True); r=l.ptrace(16, ${pid}, 0, 0); sys.exit(0 if r == 0 else 1)"`,
  'process_vm_readv (python ctypes)': `python3 -c "
import ctypes,sys
l=ctypes.CDLL(None, use_errno=True)
class V(ctypes.Structure): _fields_=[('b',ctypes.c_void_p),('n',ctypes.c_size_t)]
buf=ctypes.create_string_buffer(8); loc=V(ctypes.cast(buf,ctypes.c_void_p),8); rem=V(0x400000,8)
sys.exit(0 if l.process_vm_readv(${pid},ctypes.byref(loc),1,ctypes.byref(rem),1,0) > 0 else 1)"`,
});

test('a command of the daemon\'s own user against the daemon\'s process: /proc, ptrace, process_vm_readv, core', { timeout: 120_000 }, async (t) => {
  const secret = `trl-secret-${process.pid}-${Date.now()}`;
  const d = await TestDaemon.start({ env: { TRL_AUTH_TOKEN: secret } });
  try {
    const c = await d.connect();
    const sid = await newSession(c);
    const outcome: Record<string, string> = {};
    for (const [what, line] of Object.entries(probes(d.pid))) {
      const r = await run(c, sid, line, { timeout_s: 30 });
      const leaked = r.stdout.includes(secret);
      outcome[what] = r.exit_code === 0 ? `GOT IN${leaked ? ' (secret read)' : ''}` : `refused: ${r.stderr.trim().split('\n')[0]?.slice(0, 100) || `exit ${r.exit_code}`}`;
      assert.ok(!leaked, `${what}: the secret was read`);
    }
    const limits = readFileSync(`/proc/${d.pid}/limits`, 'utf8');
    const core = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(limits)?.slice(1).join(':');
    outcome['daemon RLIMIT_CORE (soft:hard)'] = core ?? 'unknown';
    const own = await run(c, sid, `cat /proc/$$/environ >/dev/null && sh -c 'head -c 1 /proc/$$/mem 2>&1; ls /proc/$$/fd >/dev/null' && echo ok`);
    outcome["the command's own processes (dumpable again after exec)"] = own.stdout.includes('ok') ? 'readable, as before' : `NOT readable: ${own.stderr.trim()}`;
    figure(t, 'hostile command vs daemon', outcome);
    for (const what of ['read /proc/<daemon>/environ', 'read /proc/<daemon>/mem', 'list /proc/<daemon>/fd', 'ptrace attach (python ctypes)', 'process_vm_readv (python ctypes)']) {
      assert.match(outcome[what]!, /^refused/, what);
    }
    assert.equal(core, '0:0');
    assert.match(own.stdout, /ok/);
    c.close();
  } finally {
    await d.dispose();
  }
});
