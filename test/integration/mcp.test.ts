import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { makePrivateDir } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';
import { readMemory } from '../../src/system/proc';
import type { TrlClient } from '../../src/client/client';

/**
 * `trl mcp` driven by the MCP SDK's own client over stdio, against a real
 * trld: the agent's view of the tools.
 */

/** The trl to test: the repository's, or another (the packaged bundle) given in TRL_TEST_MCP_BIN. */
const TRL = process.env.TRL_TEST_MCP_BIN ?? resolve(__dirname, '../../../bin/trl');
let daemon: TestDaemon;
let trl: TrlClient;
let workDir: string;

before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_DEFAULT_TIMEOUT_S: '120' } });
  trl = await daemon.connect();
  // A directory the daemon's user may enter, as a project directory would be.
  workDir = realpathSync(makePrivateDir('trl-mcp-'));
  chmodSync(workDir, 0o777);
  mkdirSync(join(workDir, 'sub'), { mode: 0o777 });
  chmodSync(join(workDir, 'sub'), 0o777);
});
after(async () => {
  trl?.close();
  await daemon?.dispose();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

interface Agent {
  client: Client;
  transport: StdioClientTransport;
  call(name: string, args?: Record<string, unknown>): Promise<{ text: string; isError: boolean }>;
}

async function agent(extraArgs: string[] = []): Promise<Agent> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [TRL, 'mcp', '--socket', daemon.socketPath, '--cwd', workDir, ...extraArgs],
    env,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'trl-test', version: '0' });
  await client.connect(transport);
  return {
    client,
    transport,
    async call(name, args = {}) {
      const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as { content: { type: string; text: string }[]; isError?: boolean };
      return { text: r.content.map((c) => c.text).join('\n'), isError: r.isError === true };
    },
  };
}

const execIdOf = (text: string) => /exec_id: (\S+)/.exec(text)![1]!;

/** Reads until `until` matches the accumulated text (bounded number of reads). */
async function readUntil(a: Agent, execId: string, until: RegExp): Promise<string> {
  let all = '';
  for (let i = 0; i < 60 && !until.test(all); i++) {
    const r = await a.call('read_output', { exec_id: execId });
    assert.equal(r.isError, false, r.text);
    all += r.text + '\n';
  }
  return all;
}

test('tools: the eight names, and a command run with its exit code, output and duration', async () => {
  const a = await agent();
  try {
    const { tools } = await a.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['cancel_command', 'list_commands', 'read_output', 'read_screen', 'resize_terminal', 'run_command', 'send_input', 'start_command']);
    const r = await a.call('run_command', { command: 'echo hello; echo oops >&2; exit 3' });
    assert.equal(r.isError, false, 'a non-zero exit is a normal result');
    assert.match(r.text, /^exit_code: 3$/m);
    assert.match(r.text, /^timed_out: false$/m);
    assert.match(r.text, /^duration: \d+\.\d\d s$/m);
    assert.match(r.text, /stdout \(6 bytes\):\nhello\n/);
    assert.match(r.text, /stderr \(5 bytes\):\noops$/);
  } finally {
    await a.client.close();
  }
});

test('cd and export carry over to the next call; the session starts in --cwd and is destroyed when the connection ends', async () => {
  const a = await agent();
  const pid = a.transport.pid!;
  try {
    assert.match((await a.call('run_command', { command: 'pwd' })).text, new RegExp(`stdout \\(\\d+ bytes\\):\\n${workDir}\\n`));
    await a.call('run_command', { command: 'cd sub && export GREETING=hi' });
    const r = await a.call('run_command', { command: 'pwd; echo "$GREETING"' });
    assert.match(r.text, new RegExp(`\\n${workDir}/sub\\nhi\\n`));
    const sessions = (await trl.request<{ sessions: { name: string | null }[] }>('session.list')).sessions;
    assert.ok(sessions.some((s) => s.name?.startsWith(`mcp:${pid}:`)), 'the session is named after the server');
  } finally {
    await a.client.close();
  }
  const gone = await waitFor(async () => {
    const { sessions } = await trl.request<{ sessions: { name: string | null }[] }>('session.list');
    return !sessions.some((s) => s.name?.startsWith(`mcp:${pid}:`));
  }, 10_000);
  assert.ok(gone, 'the session is destroyed when the MCP connection ends');
});

test('SIGTERM to trl mcp is a normal end too: its sessions and their commands go', async () => {
  const a = await agent();
  const pid = a.transport.pid!;
  const marker = randomUUID();
  await a.call('run_command', { command: 'true' });
  const started = await a.call('start_command', { command: 'sleep 300', env: { TRL_MCP_MARK: marker } });
  assert.equal(started.isError, false, started.text);
  assert.ok(await waitFor(() => livePidsWithEnv(marker).length > 0));
  process.kill(pid, 'SIGTERM');
  const gone = await waitFor(async () => {
    const { sessions } = await trl.request<{ sessions: { name: string | null }[] }>('session.list');
    return !sessions.some((s) => s.name?.startsWith(`mcp:${pid}:`)) && livePidsWithEnv(marker).length === 0;
  }, 15_000);
  await a.client.close().catch(() => {});
  assert.ok(gone, 'sessions destroyed and the started command killed');
});

test('a prompt is reported as waiting for input and answered with send_input', async () => {
  const a = await agent();
  try {
    const started = await a.call('start_command', { command: `python3 -c 'name = input("name? "); print("hello", name)'` });
    assert.equal(started.isError, false, started.text);
    const id = execIdOf(started.text);
    const before = await readUntil(a, id, /waiting for input/);
    assert.match(before, /name\? /);
    assert.match(before, /waiting for input: process \d+ is blocked reading stdin/);
    const sent = await a.call('send_input', { exec_id: id, text: 'world\n' });
    assert.equal(sent.isError, false, sent.text);
    const after = await readUntil(a, id, /state: exited/);
    assert.match(after, /hello world/);
    assert.match(after, /state: exited, exit_code: 0/);
  } finally {
    await a.client.close();
  }
});

test('cancel_command stops a command and its background grandchild: nothing is left', async () => {
  const a = await agent();
  const marker = `TRL_MCP_MARK=${randomUUID()}`;
  try {
    const started = await a.call('start_command', { command: 'sleep 300 & echo started; wait', env: { TRL_MCP_MARK: marker.split('=')[1]! } });
    const id = execIdOf(started.text);
    await readUntil(a, id, /started/);
    assert.ok(await waitFor(() => livePidsWithEnv(marker).length >= 2), 'the shell and its sleep run');
    const c = await a.call('cancel_command', { exec_id: id });
    assert.equal(c.isError, false, c.text);
    assert.match(c.text, /sent SIGTERM/);
    assert.ok(await waitFor(() => livePidsWithEnv(marker).length === 0, 10_000), `left alive: ${livePidsWithEnv(marker).join(' ')}`);
    assert.match(await readUntil(a, id, /state: exited/), /cancelled \(SIGTERM\)/);
  } finally {
    await a.client.close();
  }
});

test('50 MB of output: a bounded answer with head, tail and the exact count left out, in bounded memory', async () => {
  const a = await agent();
  const peak = () => readMemory(a.transport.pid!)!.hwm;
  try {
    await a.call('run_command', { command: 'true' });
    const before = peak();
    const r = await a.call('run_command', { command: `echo FIRST; head -c 52428800 /dev/zero | tr '\\0' x; echo; echo LAST-LINE` });
    assert.equal(r.isError, false, r.text.slice(0, 300));
    const total = 6 + 52428800 + 1 + 10;
    assert.match(r.text, new RegExp(`stdout \\(${total} bytes, showing the first and last parts\\):\\nFIRST\\nxxx`));
    const omitted = Number(/\[\.\.\. (\d+) bytes left out \.\.\.\]/.exec(r.text)?.[1]);
    assert.equal(omitted, total - 32 * 1024, 'head and tail (16 KiB each) plus what was left out make the whole stream');
    assert.ok(r.text.includes('xxx\nLAST-LINE\n'));
    assert.ok(r.text.length < 40 * 1024, `answer of ${r.text.length} characters`);
    // The daemon sends at most TRL_MAX_OUTPUT_BYTES (4 MiB) per stream; holding the 50 MB would show here.
    const growth = peak() - before;
    if (process.env.TRL_TEST_VERBOSE) console.log(`trl mcp peak memory: ${before} bytes before, +${growth} for 50 MB of output`);
    assert.ok(growth < 40 * 1024 * 1024, `trl mcp's peak grew by ${growth} bytes`);
  } finally {
    await a.client.close();
  }
});

test('2 GiB of output: still a bounded answer, every byte counted', async () => {
  const a = await agent();
  try {
    const r = await a.call('run_command', { command: `head -c 2147483648 /dev/zero; echo END` });
    assert.equal(r.isError, false, r.text.slice(0, 300));
    assert.match(r.text, /stdout \(2147483652 bytes, showing the first and last parts\)/);
    assert.match(r.text, new RegExp(`\\[\\.\\.\\. ${2147483652 - 32 * 1024} bytes left out \\.\\.\\.\\]`));
    assert.ok(r.text.endsWith('END\nstderr: (empty)'), r.text.slice(-80));
    assert.ok(r.text.length < 40 * 1024, `answer of ${r.text.length} characters`);
  } finally {
    await a.client.close();
  }
});

test('bad requests are tool errors naming the thing: unknown exec, missing or wrong fields, pty', async () => {
  const a = await agent();
  try {
    const unknown = randomUUID();
    for (const [tool, args] of [
      ['read_output', { exec_id: unknown }],
      ['send_input', { exec_id: unknown, text: 'x' }],
      ['cancel_command', { exec_id: unknown }],
    ] as const) {
      const r = await a.call(tool, args);
      assert.equal(r.isError, true, `${tool}: ${r.text}`);
      assert.match(r.text, new RegExp(`exec ${unknown}`), `${tool}: ${r.text}`);
      assert.match(r.text, /EXEC_NOT_FOUND/);
    }
    const missing = await a.call('run_command', {});
    assert.equal(missing.isError, true);
    assert.match(missing.text, /command/);
    const wrong = await a.call('run_command', { command: 'true', timeout_s: -1 });
    assert.equal(wrong.isError, true);
    assert.match(wrong.text, /timeout_s/);
    const small = await a.call('read_output', { exec_id: unknown, max_bytes: 10 });
    assert.equal(small.isError, true);
    assert.match(small.text, /max_bytes/);
    const pty = await a.call('start_command', { command: 'true', pty: { cols: 0, rows: 24 } });
    assert.equal(pty.isError, true);
    assert.match(pty.text, /cols must be at least 1/);
  } finally {
    await a.client.close();
  }
});

test('an exec of another MCP connection is reachable by its id only; list_commands shows only this connection\'s', async () => {
  const a = await agent();
  const b = await agent();
  try {
    const id = execIdOf((await a.call('start_command', { command: 'echo from-a; sleep 30' })).text);
    assert.match(await readUntil(a, id, /from-a/), /from-a/);
    assert.ok(!(await b.call('list_commands')).text.includes(id), 'not listed for another connection');
    assert.match((await a.call('list_commands')).text, new RegExp(`${id}  running`));
    assert.match(await readUntil(b, id, /from-a/), /from-a/, 'named, it is readable');
    await a.call('cancel_command', { exec_id: id });
  } finally {
    await a.client.close();
    await b.client.close();
  }
});

test('a started command survives a crash of the MCP server and is listed and read by the next one', async () => {
  const a = await agent();
  const id = execIdOf((await a.call('start_command', { command: 'echo before-crash; sleep 2; echo after-crash' })).text);
  process.kill(a.transport.pid!, 'SIGKILL');
  await a.client.close().catch(() => {});
  const b = await agent();
  try {
    const list = await b.call('list_commands');
    assert.match(list.text, new RegExp(`${id}  (running|exited 0).*left by an earlier trl mcp`));
    const out = await readUntil(b, id, /state: exited/);
    assert.match(out, /before-crash/);
    assert.match(out, /after-crash/);
    assert.match(out, /exit_code: 0/);
  } finally {
    await b.client.close();
  }
});

test('an agent cancelling its run_command request cancels the command', async () => {
  const a = await agent();
  const marker = randomUUID();
  try {
    const abort = new AbortController();
    const pending = a.client.callTool({ name: 'run_command', arguments: { command: 'sleep 300', env: { TRL_MCP_MARK: marker } } }, undefined, { signal: abort.signal });
    pending.catch(() => {});
    assert.ok(await waitFor(() => livePidsWithEnv(marker).length > 0, 10_000), 'the command runs');
    abort.abort();
    assert.ok(await waitFor(() => livePidsWithEnv(marker).length === 0, 10_000), 'the command was stopped');
    const next = await a.call('run_command', { command: 'echo free' });
    assert.match(next.text, /stdout \(5 bytes\):\nfree/, 'the session is free for the next command');
  } finally {
    await a.client.close();
  }
});

// Terminals need the native process layer; under the child_process fallback trld refuses pty (tested in pty.test.ts).
const noTerminal = process.env.TRL_SPAWNER === 'child_process' ? 'TRL_SPAWNER=child_process: a controlling terminal needs the native process layer' : false;

test('terminal: run_command and start_command with pty get a /dev/pts terminal; stderr is merged into stdout', { skip: noTerminal }, async () => {
  const a = await agent();
  try {
    const run = await a.call('run_command', { command: 'tty; echo to-stderr >&2', pty: true });
    assert.equal(run.isError, false, run.text);
    assert.match(run.text, /^exit_code: 0$/m);
    assert.match(run.text, /\/dev\/pts\/\d+\r\nto-stderr\r\n/);
    assert.match(run.text, /stderr: \(empty\)/);
    const piped = await a.call('run_command', { command: 'tty' });
    assert.match(piped.text, /not a tty/, 'without pty, a command has no terminal');
    const started = await a.call('start_command', { command: 'tty', pty: true });
    assert.equal(started.isError, false, started.text);
    assert.match(started.text, /read_screen/);
    const out = await readUntil(a, execIdOf(started.text), /state: exited/);
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.match(out, /state: exited, exit_code: 0/);
  } finally {
    await a.client.close();
  }
});

test('terminal: read_screen shows a full-screen redraw (alternate screen, cursor addressing, title); "\\r" sent by send_input ends it', { skip: noTerminal }, async () => {
  const a = await agent();
  try {
    const started = await a.call('start_command', {
      command: `printf '\\033]0;my-title\\007\\033[?1049h\\033[2J\\033[3;5Hhello'; read x; sleep 0.1; printf '\\033[6;1Hsecond [%s]' "$x"; read y; echo "got [$x]"`,
      pty: { cols: 60, rows: 10 },
    });
    assert.equal(started.isError, false, started.text);
    const id = execIdOf(started.text);
    await readUntil(a, id, /waiting for input/);
    const screen = await a.call('read_screen', { exec_id: id });
    assert.equal(screen.isError, false, screen.text);
    assert.match(screen.text, /^state: running$/m);
    assert.match(screen.text, /^size: 60 columns x 10 rows$/m);
    assert.match(screen.text, /^title: "my-title"$/m);
    assert.match(screen.text, /^alternate screen: yes/m);
    assert.match(screen.text, /^cursor: row 2, column 9 /m);
    assert.match(screen.text, /^0 \| $/m, 'the cleared rows are blank');
    assert.match(screen.text, /^2 \|     hello$/m, 'row 2 (from 0), column 4: where the program put it');
    assert.match(screen.text, /^\(rows 3–9 are blank\)$/m);
    const sent = await a.call('send_input', { exec_id: id, text: 'abc\r' });
    assert.equal(sent.isError, false, sent.text);
    assert.match(sent.text, /sent 4 bytes/);
    const redrawn = await a.call('read_screen', { exec_id: id });
    assert.match(redrawn.text, /^5 \| second \[abc\]$/m, 'read_screen right after send_input shows what the keys made the program draw');
    await a.call('send_input', { exec_id: id, text: '\r' });
    const out = await readUntil(a, id, /state: exited/);
    assert.match(out, /got \[abc\]/, '"\\r" reached the terminal as Enter');
    assert.match(out, /state: exited, exit_code: 0/);
    const after = await a.call('read_screen', { exec_id: id });
    assert.equal(after.isError, false, after.text);
    assert.match(after.text, /^state: exited$/m, 'the last screen stays readable');
  } finally {
    await a.client.close();
  }
});

test('terminal: resize_terminal changes what stty size reports; Ctrl-C sent as "\\u0003" interrupts the program', { skip: noTerminal }, async () => {
  const a = await agent();
  try {
    const started = await a.call('start_command', { command: 'stty size; read x; stty size; sleep 100', pty: { cols: 100, rows: 30 } });
    const id = execIdOf(started.text);
    const prompt = await readUntil(a, id, /waiting for input/);
    assert.match(prompt, /30 100/);
    assert.match(prompt, /blocked reading its terminal \(a prompt\?\); see it with read_screen/);
    assert.match((await a.call('list_commands')).text, new RegExp(`${id}  running .* terminal 100x30`));
    const resized = await a.call('resize_terminal', { exec_id: id, cols: 120, rows: 40 });
    assert.equal(resized.isError, false, resized.text);
    assert.match(resized.text, /120 columns x 40 rows/);
    await a.call('send_input', { exec_id: id, text: '\r' });
    assert.match(await readUntil(a, id, /40 120/), /40 120/);
    const screen = await a.call('read_screen', { exec_id: id });
    assert.match(screen.text, /^size: 120 columns x 40 rows$/m);
    assert.match(screen.text, /^ *2 \| 40 120$/m);
    await a.call('send_input', { exec_id: id, text: '\u0003' });
    const out = await readUntil(a, id, /state: exited/);
    assert.match(out, /state: exited, exit_code: (130|\d+ \(killed by SIGINT\))/, out);
  } finally {
    await a.client.close();
  }
});

/** Reads the screen until `until` matches it (bounded number of reads). */
async function screenUntil(a: Agent, execId: string, until: RegExp): Promise<string> {
  let last = '';
  for (let i = 0; i < 40 && !until.test(last); i++) {
    const r = await a.call('read_screen', { exec_id: execId });
    assert.equal(r.isError, false, r.text);
    last = r.text;
  }
  return last;
}

test('terminal: an agent edits a file in vi through start_command, read_screen and send_input', { skip: noTerminal }, async () => {
  const a = await agent();
  try {
    const file = `notes-${randomUUID().slice(0, 8)}.txt`;
    const started = await a.call('start_command', { command: `vi -u NONE -N ${file}`, pty: true });
    assert.equal(started.isError, false, started.text);
    const id = execIdOf(started.text);
    const opened = await screenUntil(a, id, /^23 \| .*notes-/m);
    assert.match(opened, /^alternate screen: yes/m, opened);
    assert.match(opened, /^ 1 \| ~$/m, opened);
    await a.call('send_input', { exec_id: id, text: 'ihello from an agent\u001b' });
    const typed = await screenUntil(a, id, /^ 0 \| hello from an agent$/m);
    assert.match(typed, /^ 0 \| hello from an agent$/m, typed);
    await a.call('send_input', { exec_id: id, text: ':wq\r' });
    assert.match(await readUntil(a, id, /state: exited/), /state: exited, exit_code: 0/);
    const cat = await a.call('run_command', { command: `cat ${file}` });
    assert.match(cat.text, /stdout \(20 bytes\):\nhello from an agent\n/);
  } finally {
    await a.client.close();
  }
});

test('terminal errors are tool errors naming the problem: read_screen and resize_terminal of a command on pipes, a finished or unknown exec', { skip: noTerminal }, async () => {
  const a = await agent();
  try {
    const piped = execIdOf((await a.call('start_command', { command: 'read x' })).text);
    for (const tool of ['read_screen', 'resize_terminal'] as const) {
      const r = await a.call(tool, { exec_id: piped, ...(tool === 'resize_terminal' ? { cols: 90, rows: 20 } : {}) });
      assert.equal(r.isError, true, r.text);
      assert.match(r.text, new RegExp(`${tool} of exec ${piped}`));
      assert.match(r.text, /INVALID_PARAMS/);
      assert.match(r.text, /not on a terminal/);
      assert.match(r.text, /start_command and pty: true/);
    }
    const done = execIdOf((await a.call('start_command', { command: 'true', pty: true })).text);
    await readUntil(a, done, /state: exited/);
    const late = await a.call('resize_terminal', { exec_id: done, cols: 90, rows: 20 });
    assert.equal(late.isError, true, late.text);
    assert.match(late.text, /EXEC_NOT_RUNNING/);
    const unknown = randomUUID();
    const gone = await a.call('read_screen', { exec_id: unknown });
    assert.equal(gone.isError, true);
    assert.match(gone.text, new RegExp(`read_screen of exec ${unknown}: trld refused \\(EXEC_NOT_FOUND\\)`));
    const huge = await a.call('resize_terminal', { exec_id: done, cols: 0, rows: 20 });
    assert.equal(huge.isError, true);
    assert.match(huge.text, /cols must be at least 1/);
    const tooBig = await a.call('start_command', { command: 'true', pty: { cols: 9000, rows: 24 } });
    assert.equal(tooBig.isError, true, tooBig.text);
    assert.match(tooBig.text, /cols/);
    assert.match(tooBig.text, /TRL_PTY_MAX_COLS/);
  } finally {
    await a.client.close();
  }
});

// Last: it replaces the daemon, and trl mcp started after it would find none on the socket the others use.
test('trld going away in the middle of run_command is a tool error; the MCP server lives on and uses the restarted daemon', async () => {
  const a = await agent();
  try {
    await a.call('run_command', { command: 'cd sub' });
    const pending = a.call('run_command', { command: 'sleep 30' });
    await waitFor(async () => (await trl.request<{ running_commands: number }>('system.stats')).running_commands > 0);
    trl.close();
    await daemon.stop('SIGKILL');
    const r = await pending;
    assert.equal(r.isError, true);
    assert.match(r.text, /run_command: the connection to trld was lost/);
    const next = await a.call('run_command', { command: 'true' });
    assert.equal(next.isError, true);
    assert.match(next.text, new RegExp(`cannot connect to trld; tried:\\n  ${daemon.socketPath} `));
    assert.deepEqual((await a.client.listTools()).tools.length, 8, 'still answering');

    // The daemon comes back on the same socket: the next call reconnects, in a new session.
    const old = daemon;
    daemon = await TestDaemon.start({ env: { TRL_SOCKET_PATH: old.socketPath } });
    trl = await daemon.connect();
    const again = await a.call('run_command', { command: 'pwd' });
    assert.equal(again.isError, false, again.text);
    assert.match(again.text, /^note: trld was restarted: a new session started in /m);
    assert.match(again.text, new RegExp(`stdout \\(\\d+ bytes\\):\\n${workDir}$`, 'm'));
    await old.dispose();
  } finally {
    await a.client.close();
  }
});
