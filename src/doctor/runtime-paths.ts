import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { UnitFile } from './unit';

/**
 * The runtime's files when not given: the unit's ExecStart= program (and, for
 * a script, its interpreter), each with the directory it lives in; without a
 * unit, this installation (the bundle directory, or a checkout's dist/, bin/
 * and node_modules/) and the node binary running it.
 */
export function defaultRuntimePaths(unit: UnitFile | null): string[] {
  const paths = new Set<string>();
  const add = (p: string) => {
    try {
      paths.add(realpathSync(p));
    } catch {
      paths.add(p); // reported missing by the check
    }
  };
  const exec = unit?.get('Service.ExecStart');
  if (exec) {
    const program = exec.replace(/^[-@:+!]+/, '').split(/\s+/)[0]!;
    add(program);
    try {
      const real = realpathSync(program);
      paths.add(dirname(real));
      const head = readFileSync(real).subarray(0, 256).toString('latin1');
      const shebang = /^#!\s*(\S+)/.exec(head);
      if (shebang) add(shebang[1]!);
    } catch {
      /* reported by the check */
    }
  } else {
    // dist/src/doctor → the checkout; a bundle has everything in its own directory
    const here = __dirname;
    const root = resolve(here, '../../..');
    if (existsSync(join(root, 'dist')) && here.startsWith(join(root, 'dist'))) {
      for (const p of ['dist', 'bin', 'node_modules']) add(join(root, p));
    } else {
      add(here);
    }
  }
  add(process.execPath);
  return [...paths];
}
