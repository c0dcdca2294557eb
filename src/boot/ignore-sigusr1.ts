/**
 * SIGUSR1 opens Node's inspector, and the loader compiles the whole bundle
 * before the daemon's own guard (system/no-inspector.ts) runs: a listener
 * replaces Node's handler from the loader's first line. Imported first.
 */
process.on('SIGUSR1', () => {});
