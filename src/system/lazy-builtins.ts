/**
 * Node modules the daemon needs only once it works, loaded on first use
 * instead of at start-up. Where Node has no built-in code cache (Debian's
 * nodejs is built without it), each internal module is compiled from source
 * when first required: node:crypto brings fifteen. (The spawn layer loads
 * Node's process module the same way: exec/spawn.ts.)
 */
let crypto: typeof import('node:crypto') | undefined;

function lazyCrypto(): typeof import('node:crypto') {
  return (crypto ??= require('node:crypto') as typeof import('node:crypto'));
}

/** A random UUID (session and exec ids). */
export function randomUUID(): string {
  return lazyCrypto().randomUUID();
}
