import './ignore-sigusr1';
import { join } from 'node:path';
import { cachePath } from '../system/code-cache-file';
import { setCodeCacheReport } from '../system/code-cache-report';
import { startBundle } from './start-bundle';
import { writeDaemonCodeCache } from './write-code-cache';

/**
 * The packaged trld (/usr/sbin/trld): runs the daemon bundle beside it,
 * trld-main.js, with the V8 code cache the package made of its start-up when
 * one fits and is root's, so start-up code is deserialized, not compiled;
 * without one exactly as before, only slower to start. The daemon logs what
 * happened (system/code-cache-report.ts). `trld --write-code-cache 3>FILE`
 * makes the cache.
 */
const bundle = join(__dirname, 'trld-main.js');
if (process.argv[2] === '--write-code-cache') {
  process.argv.splice(2, 1);
  writeDaemonCodeCache(bundle);
} else {
  startBundle(bundle, cachePath('trld.cache'), setCodeCacheReport);
}
