// Runs inside the box (the distribution's node, no dependencies).
// node probe.cjs SOCKET REQUEST_JSON...
// Sends each request on a fresh connection (connect, one line, read one line,
// close: the one-shot client) and prints one JSON line per request:
// {"ms": <connect to first answer>, "reply": <parsed answer>} or {"error": ...}.
'use strict';
const net = require('node:net');

function ask(path, line) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const c = net.createConnection(path);
    let buf = '';
    const done = (out) => {
      c.destroy();
      resolve(out);
    };
    c.setTimeout(20000, () => done({ error: 'timeout' }));
    c.on('error', (err) => done({ error: err.code || String(err) }));
    c.on('connect', () => c.write(line + '\n'));
    c.on('data', (b) => {
      buf += b;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      let reply;
      try {
        reply = JSON.parse(buf.slice(0, nl));
      } catch {
        reply = buf.slice(0, nl);
      }
      done({ ms: Math.round(ms * 10) / 10, reply });
    });
  });
}

(async () => {
  const [path, ...requests] = process.argv.slice(2);
  for (const r of requests) process.stdout.write(JSON.stringify(await ask(path, r)) + '\n');
})();
