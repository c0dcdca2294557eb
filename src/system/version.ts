import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read once; the bundle has it inlined by the build. */
export const VERSION: string = (() => {
  for (const rel of ['../../package.json', '../../../package.json', '../package.json']) {
    try {
      return JSON.parse(readFileSync(join(__dirname, rel), 'utf8')).version as string;
    } catch {
      /* try the next layout */
    }
  }
  return '0.0.0';
})();
