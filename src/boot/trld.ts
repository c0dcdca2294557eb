import './ignore-sigusr1';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { setCodeCacheReport, type CodeCacheReport } from '../system/code-cache-report';
import { BundleScript, buildIdOf } from './bundle-script';
import { DEFAULT_CODE_CACHE, readCodeCache } from './code-cache';
import { writeCodeCache } from './write-code-cache';

/**
 * The packaged trld (/usr/sbin/trld): runs the daemon bundle beside it,
 * trld-main.js, with the V8 code cache the package made of its start-up when
 * one fits and is root's, so start-up code is deserialized, not compiled;
 * without one exactly as before, only slower to start. The daemon logs what
 * happened (system/code-cache-report.ts). `trld --write-code-cache 3>FILE`
 * makes the cache (write-code-cache.ts).
 */
const bundle = join(__dirname, 'trld-main.js');
if (process.argv[2] === '--write-code-cache') {
  process.argv.splice(2, 1);
  writeCodeCache(bundle);
} else {
  start();
}

function start(): void {
  const path = process.env.TRL_CODE_CACHE ?? DEFAULT_CODE_CACHE;
  const report = (r: CodeCacheReport): void => setCodeCacheReport(r);
  if (path === '') {
    report({ state: 'off', path });
    require(bundle);
    return;
  }
  if (!isAbsolute(path)) {
    report({ state: 'refused', path, reason: 'TRL_CODE_CACHE must be an absolute path' });
    require(bundle);
    return;
  }
  const source = readFileSync(bundle, 'utf8');
  const found = readCodeCache(path, buildIdOf(source));
  if (found.state !== 'found') {
    report(found.state === 'absent' ? { state: 'absent', path } : { state: found.state, path, reason: found.reason });
    require(bundle);
    return;
  }
  const script = new BundleScript(bundle, source, found.data);
  report(script.rejected ? { state: 'rejected', path, reason: `V8 refused ${path}: it was made by another build of Node or with other flags` } : { state: 'used', path });
  script.run();
}
