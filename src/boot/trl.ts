import { join } from 'node:path';
import { cachePath } from '../system/code-cache-file';
import { startBundle } from './start-bundle';
import { writeCliCodeCache } from './write-code-cache';

/**
 * The packaged trl (/usr/bin/trl): runs the CLI bundle beside it,
 * trl-main.js, with the package's V8 code cache of its start-up when one
 * fits and is root's (agents run `trl exec` once per command: each start
 * counts). The CLI says nothing of it; `trl doctor` does.
 * `trl --write-code-cache 3>FILE` makes the cache.
 */
const bundle = join(__dirname, 'trl-main.js');
if (process.argv[2] === '--write-code-cache') {
  process.argv.splice(2, 1);
  writeCliCodeCache(bundle);
} else {
  startBundle(bundle, cachePath('trl.cache'), () => {});
}
