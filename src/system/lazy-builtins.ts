/**
 * Node modules the daemon needs only once it works, loaded on first use
 * instead of at start-up. Where Node has no built-in code cache (Debian's
 * nodejs is built without it), each internal module is compiled from source
 * when first required: node:crypto brings fifteen. (node:child_process comes
 * anyway when a socket listens: net loads cluster, which loads it; on stdio
 * it is spared.)
 */
let crypto: typeof import('node:crypto') | undefined;
let childProcess: typeof import('node:child_process') | undefined;

export function lazyCrypto(): typeof import('node:crypto') {
  return (crypto ??= require('node:crypto') as typeof import('node:crypto'));
}

export function lazyChildProcess(): typeof import('node:child_process') {
  return (childProcess ??= require('node:child_process') as typeof import('node:child_process'));
}

/** A random UUID (session and exec ids). */
export function randomUUID(): string {
  return lazyCrypto().randomUUID();
}
