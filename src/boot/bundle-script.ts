import { dirname } from 'node:path';
import type { Script } from 'node:vm';
import { wrapModule } from '../system/code-cache-file';

/**
 * The bundle compiled as Node compiles a CommonJS module (the same wrapper
 * and arguments), but through vm.Script, the one compile path of Node 20
 * that takes a V8 code cache.
 */
export class BundleScript {
  readonly script: Script;

  constructor(
    readonly path: string,
    source: string,
    cachedData?: Buffer,
  ) {
    // Loaded here, not at the loader's start: a start without a cache never needs it.
    const { Script } = require('node:vm') as typeof import('node:vm');
    this.script = new Script(wrapModule(source), { filename: path, ...(cachedData ? { cachedData } : {}) });
  }

  /** True when a cache was given and V8 refused it (another V8 build or other flags). */
  get rejected(): boolean {
    return this.script.cachedDataRejected === true;
  }

  run(): void {
    const fn = this.script.runInThisContext() as (...args: unknown[]) => void;
    const module = { exports: {}, filename: this.path, id: '.', loaded: false };
    // The loader's own require: the bundle asks only for Node's modules and
    // for addons by absolute path, and node:module's createRequire would load
    // the ES module loader at start.
    fn.call(module.exports, module.exports, require, module, this.path, dirname(this.path));
    module.loaded = true;
  }

  /** V8's cache of every function compiled so far: taken after start-up has run, it holds start-up's code. */
  cache(): Buffer {
    return this.script.createCachedData();
  }
}
