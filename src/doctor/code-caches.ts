import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cachePath, findCodeCache, rejectedReason, wrapModule } from '../system/code-cache-file';
import type { CodeCacheReport } from '../system/code-cache-report';
import type { DoctorContext } from './context';
import { fail, na, pass, type Check } from './result';

/** Beside the CLI bundle doctor runs in: the packaged programs whose start-up the caches hold. */
const PROGRAMS = ['trld', 'trl'];

/**
 * What trld and trl would do with their code caches (src/boot/), judged the
 * way they judge them, V8's verdict included (the bundle is compiled, not
 * run). null when doctor does not run from the package's bundle (a build
 * tree has no caches).
 */
export function inspectCodeCaches(env: NodeJS.ProcessEnv, libDir = __dirname): (CodeCacheReport & { name: string })[] | null {
  if (!PROGRAMS.every((name) => existsSync(join(libDir, `${name}-main.js`)))) return null;
  return PROGRAMS.map((name) => {
    const bundle = join(libDir, `${name}-main.js`);
    const path = cachePath(`${name}.cache`, env);
    const found = findCodeCache(bundle, path);
    if ('state' in found) return { name, ...found };
    const { Script } = require('node:vm') as typeof import('node:vm');
    const script = new Script(wrapModule(found.source), { filename: bundle, cachedData: found.data });
    return script.cachedDataRejected ? { name, state: 'rejected', path, reason: rejectedReason(path) } : { name, state: 'used', path };
  });
}

/** The package's code caches fit this build and this Node, and are root's alone. */
export const codeCaches: Check<DoctorContext> = (ctx) => {
  const id = 'code_caches';
  const title = 'start-up code caches are root\'s and fit this Node';
  const caches = ctx.codeCaches;
  if (caches === null) return na(id, title, 'trl does not run from the package here: there are no code caches to check');
  if (caches.every((c) => c.state === 'off')) return na(id, title, 'turned off (TRL_CODE_CACHE_DIR is empty)');
  const bad = caches.filter((c) => c.state !== 'used' && c.state !== 'off');
  if (bad.length === 0) return pass(id, title, caches.map((c) => `${c.path} used by ${c.name}`).join(', '));
  const what = bad.map((c) => (c.state === 'absent' ? `${c.path} is missing: ${c.name} starts slower` : `${c.name}: ${c.reason}`));
  return fail(id, title, what.join('; '), 'dpkg-reconfigure trl makes them again (as root; it replaces a file that is not root\'s)');
};
