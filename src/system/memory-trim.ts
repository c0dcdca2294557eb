import { nativeAddon } from '../native/addon';

/** Output read that makes a trim due. */
const TRIM_EVERY_BYTES = 16 * 1024 * 1024;
/** What one command's start and end weigh: its records, pipes and objects (1 000 commands make a trim due). */
const COMMAND_BYTES = TRIM_EVERY_BYTES / 1000;
/** Output read while a trim waited that means the flood goes on (a trickle does not). */
const FLOOD_BYTES = 1024 * 1024;
/** A trim runs this long after it became due: at most one per interval, never inside a read. */
const TRIM_DELAY_MS = 1000;
/**
 * The trim proper waits this long after the collection: V8 frees the dead
 * buffers' memory on a helper thread after the collection returns, and a trim
 * before that found nothing to give back (seen: 60 MB left in the heap).
 */
const FREED_AFTER_MS = 250;
/**
 * A young-generation collection this long after the full one lets V8 shrink
 * its new space back to 1 MB: it grows to two 16 MB semi-spaces under a
 * stream of commands, and V8 shrinks it only at a collection that sees its
 * allocation rate low over the last 5 s, which the trim's own collection, a
 * second after the stream stopped, never does (measured: 30 MB more RSS
 * after 6 000 commands, until the memory reducer came ~12-25 s later).
 */
const SETTLE_AFTER_MS = 6000;

/**
 * Gives the memory of output buffers back to the kernel once commands stop
 * flooding (and of commands once a stream of them stops). Every output read
 * is a buffer V8 frees only when a collection finds it dead, and a collection
 * comes from allocation: after a flood the last buffers stay, unreferenced,
 * until the next one, and glibc's heap keeps its flood-time size. Once
 * TRIM_EVERY_BYTES have been read, and then every second while the flood goes
 * on, it looks again; once the flood has stopped, a full collection frees the
 * dead buffers and, once V8 has freed them, malloc_trim (native/memory.c)
 * hands the heap's free pages to the kernel; if it stays quiet, a young
 * collection some seconds later lets V8 give back its grown new space.
 * Nothing is trimmed while the flood goes on: its next reads would fault the
 * same pages back in. The cost is bounded by the output
 * commands write and by their number (COMMAND_BYTES each): a quiet daemon,
 * or one reading a trickle, does nothing. Without the native addon only the
 * collection runs.
 */
export class MemoryTrim {
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | undefined;
  /** Trims done (tests). */
  count = 0;
  /** See onTrim. */
  private readonly spares: (() => void)[] = [];

  /** `drop` lets go of memory kept for reuse (buffers); it runs before each trim's collection. */
  onTrim(drop: () => void): void {
    this.spares.push(drop);
  }

  constructor(
    private readonly trim: () => unknown,
    private readonly collect: () => void,
    /** A young-generation collection. */
    private readonly collectYoung: () => void,
  ) {}

  /**
   * The daemon is ready: what its start left behind is given back a second
   * later, as after a flood (the bundle's source as read before it was
   * wrapped for the compiler, the code cache's file, the start-up's garbage,
   * then the young generation the start grew), not when V8's memory reducer
   * gets to it some 8 s on or a flood makes a collection due.
   */
  startedUp(): void {
    if (this.timer === null) this.schedule();
  }

  /** A command ended: what a stream of commands leaves behind is given back too. */
  commandEnded(): void {
    this.outputRead(COMMAND_BYTES);
  }

  /** `n` bytes of a command's output were read. */
  outputRead(n: number): void {
    this.bytes += n;
    if (this.timer === null && this.bytes >= TRIM_EVERY_BYTES) this.schedule();
  }

  private schedule(): void {
    this.bytes = 0;
    this.timer = setTimeout(this.run, TRIM_DELAY_MS);
    this.timer.unref();
  }

  private readonly run = (): void => {
    this.timer = null;
    if (this.bytes >= FLOOD_BYTES) return this.schedule();
    this.count++;
    for (const drop of this.spares) drop();
    this.collect();
    setTimeout(this.trim, FREED_AFTER_MS).unref();
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(this.settle, SETTLE_AFTER_MS);
    this.settleTimer.unref();
  };

  /** Only while it stays quiet: a later collection put it off, and output or commands since make one due. */
  private readonly settle = (): void => {
    if (this.timer === null && this.bytes < FLOOD_BYTES) this.collectYoung();
  };
}

let gc: ((options?: { type: 'minor' }) => void) | undefined;

/**
 * V8's collection: `gc()` a full one, `{ type: 'minor' }` a young one (V8
 * 11.3 runs a young one for `{ type: 'major' }` too). `--expose-gc` set at
 * run time gives it to a new context only, so the daemon's own global stays
 * as it was.
 */
export function collection(type: 'full' | 'young'): void {
  if (gc === undefined) {
    // Loaded here, not at start-up (system/lazy-builtins.ts says why).
    const v8 = require('node:v8') as typeof import('node:v8');
    v8.setFlagsFromString('--expose-gc');
    gc = (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as typeof gc;
    // The function stays; the flag goes back: V8 refuses a code cache made under other flags, and
    // `trld --write-code-cache` makes its cache from a running daemon, which trims a second after ready.
    v8.setFlagsFromString('--no-expose-gc');
  }
  if (type === 'full') gc!();
  else gc!({ type: 'minor' });
}

/** The daemon's one trimmer, fed by every command's reads. */
export const memoryTrim = new MemoryTrim(
  () => nativeAddon().addon?.trimMemory(),
  () => collection('full'),
  () => collection('young'),
);
