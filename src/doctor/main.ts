/** `node dist/src/doctor/main.js [options]`: trl doctor on its own (the CLI's `trl doctor` runs the same runDoctor). */
import { runDoctor } from './doctor';

runDoctor(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`trl doctor: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 70;
  },
);
