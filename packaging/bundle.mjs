// Bundles trld and trl into one file each with esbuild, for a fast cold start
// (one file to read and compile instead of hundreds of modules).
//
// Input is the tsc output (dist/), so the bundle runs exactly the code the
// tests ran. The sd-notify native addon is not bundled: its loader
// (`bindings`, which searches the package tree) is replaced by a shim that
// loads `notify.node` from the bundle's own directory, and the addon is copied
// there. trl's own addon (native/, the process layer) is copied there too as
// `trl_native.node`: src/native/addon.ts looks beside the bundle first. Every npm package that ends up in a bundle must be named in
// packaging/debian/copyright, or the build fails.
//
// Usage: node packaging/bundle.mjs [--out DIR] [--from TREE]
// (--from: another tree with dist/ and node_modules/, default this repository)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const out = resolve(repo, arg('--out', 'build/bundle'));
const from = resolve(repo, arg('--from', repo));
mkdirSync(out, { recursive: true });

const addonShim = {
  name: 'sd-notify-addon-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'addon-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'addon-shim' }, () => ({
      contents: "module.exports = (name) => require(require('node:path').join(__dirname, name + '.node'));",
      loader: 'js',
    }));
  },
};

// src/system/version.ts reads package.json at run time; the bundle has no
// package.json beside it, so the version is inlined.
const version = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')).version;
const inlineVersion = {
  name: 'inline-version',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]system[\\/]version\.js$/ }, () => ({
      contents: `"use strict";Object.defineProperty(exports,"__esModule",{value:true});exports.VERSION=${JSON.stringify(version)};`,
      loader: 'js',
    }));
  },
};

// zod's locale index requires every language's messages (about 60 modules,
// ~10 ms of each start); trl speaks English only, and zod itself loads en
// directly. The index is replaced by one that exports en alone.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.cjs$/ }, (args) => ({
      contents: '"use strict";Object.defineProperty(exports,"__esModule",{value:true});exports.en=require("./en.cjs").default;',
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

// @xterm/headless (142 KB) is needed only once a terminal command starts
// (src/exec/pty/screen.ts requires it then). Inside the bundle its source was
// read, kept in memory and hashed into the build line at every start; it ships
// beside the bundles instead, as xterm-headless.js, and the require finds it
// there (relative to the loader, trld.js, in the same directory).
const xtermBeside = {
  name: 'xterm-beside-bundle',
  setup(b) {
    b.onResolve({ filter: /^@xterm\/headless$/ }, () => ({ path: './xterm-headless.js', external: true }));
  },
};

// pino's transports run in worker threads: pino loads worker_threads and its
// transport module at start (about 10 ms of a cold start under a Node built
// without its code cache, as Debian's is). trl logs to stdout from the main
// thread and never uses a transport: both are replaced by what pino needs of
// them (it asks whether it is on the main thread; asking for a transport says
// that none is bundled).
const pinoWithoutTransports = {
  name: 'pino-without-transports',
  setup(b) {
    b.onResolve({ filter: /^worker_threads$/ }, (args) =>
      /[\\/]pino[\\/]lib[\\/]tools\.js$/.test(args.importer) ? { path: 'worker_threads', namespace: 'pino-main-thread' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'pino-main-thread' }, () => ({ contents: 'module.exports = { isMainThread: true };', loader: 'js' }));
    b.onLoad({ filter: /[\\/]pino[\\/]lib[\\/]transport\.js$/ }, () => ({
      contents: "module.exports = function transport() { throw new Error('pino transports are not bundled with trl: it logs to stdout'); };",
      loader: 'js',
    }));
  },
};

// sonic-boom (pino's destination) requires node:assert for one check of an
// fd's type; node:assert loads eight internal modules (about 1.4 ms of a cold
// start under Debian's Node). The bundle gives it a function doing that check.
const sonicBoomWithoutAssert = {
  name: 'sonic-boom-without-assert',
  setup(b) {
    b.onResolve({ filter: /^assert$/ }, (args) =>
      /[\\/]sonic-boom[\\/]index\.js$/.test(args.importer) ? { path: 'assert', namespace: 'sonic-boom-assert' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'sonic-boom-assert' }, () => ({
      contents: 'module.exports = function assert(ok, message) { if (!ok) throw new Error(message); };',
      loader: 'js',
    }));
  },
};

// trld.js and trl.js are loaders (src/boot/) that run trld-main.js (the
// daemon) and trl-main.js (the CLI) with a V8 code cache when one fits; each
// -main.js starts with a line naming its build (a hash of the rest), which a
// cache must have been made for.
const entries = [
  { name: 'trld.js', entry: 'dist/src/boot/trld.js', executable: true },
  { name: 'trld-main.js', entry: 'dist/src/main.js', buildLine: true },
  { name: 'trl.js', entry: 'dist/src/boot/trl.js', executable: true },
  { name: 'trl-main.js', entry: 'dist/src/cli/main.js', buildLine: true },
];

const packages = new Set();
for (const { name, entry, executable, buildLine } of entries) {
  const result = await build({
    entryPoints: [join(from, entry)],
    outfile: join(out, name),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    ...(executable ? { banner: { js: '#!/usr/bin/node' } } : {}),
    plugins: [addonShim, inlineVersion, zodEnglishOnly, pinoWithoutTransports, sonicBoomWithoutAssert, xtermBeside],
    metafile: true,
    logLevel: 'warning',
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.add(m[1]);
  }
  if (buildLine) {
    const code = readFileSync(join(out, name));
    writeFileSync(join(out, name), Buffer.concat([Buffer.from(`// trl-build ${createHash('sha256').update(code).digest('hex')}\n`), code]));
  }
  chmodSync(join(out, name), executable ? 0o755 : 0o644);
}

const addon = join(from, 'node_modules/sd-notify/build/Release/notify.node');
try {
  statSync(addon);
} catch {
  console.error(`bundle: ${addon} is missing: install libsystemd-dev, then npm ci (with npm_config_nodedir=/usr)`);
  process.exit(1);
}
copyFileSync(addon, join(out, 'notify.node'));
chmodSync(join(out, 'notify.node'), 0o644);
packages.add('sd-notify');

const xterm = join(from, 'node_modules/@xterm/headless/lib-headless/xterm-headless.js');
// Without its source-map line: the map is not shipped.
writeFileSync(join(out, 'xterm-headless.js'), readFileSync(xterm, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
chmodSync(join(out, 'xterm-headless.js'), 0o644);
packages.add('@xterm/headless');

const ownAddon = join(from, 'native/build/Release/trl_native.node');
try {
  statSync(ownAddon);
} catch {
  console.error(`bundle: ${ownAddon} is missing: run make native (needs a C compiler and Node's headers)`);
  process.exit(1);
}
copyFileSync(ownAddon, join(out, 'trl_native.node'));
chmodSync(join(out, 'trl_native.node'), 0o644);

const copyright = readFileSync(join(repo, 'packaging/debian/copyright'), 'utf8');
const missing = [...packages].filter((p) => !new RegExp(`^Files: .*\\bnode_modules/${p.replace(/[/.]/g, '\\$&')}/`, 'm').test(copyright));
const list = [...packages].sort();
writeFileSync(join(out, 'packages.txt'), `${list.join('\n')}\n`);
writeFileSync(join(out, 'VERSION'), `${version}\n`);
console.log(`bundle: ${out}: version ${version}, ${entries.map((e) => e.name).join(', ')}, notify.node, trl_native.node, xterm-headless.js; packages: ${list.join(' ')}`);
if (missing.length > 0) {
  console.error(`bundle: packaging/debian/copyright names no Files: stanza for: ${missing.join(' ')}`);
  process.exit(1);
}
