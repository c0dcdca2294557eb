const mods = ['inspector', 'cluster', 'assert', 'perf_hooks', 'timers/promises', 'tty', 'os', 'net', 'util'];
const out = {};
for (const m of mods) { const t = process.hrtime.bigint(); require(m); out[m] = Number(process.hrtime.bigint() - t) / 1e6; }
console.log(JSON.stringify(out));
