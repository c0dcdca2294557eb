import type { ByteSource } from './spawn';

/**
 * Stops and restarts the reading of a command's stdout and stderr for a
 * lossless reader. Node resumes a child's stdio streams when the child exits
 * (child_process's flushStdio), which would release the pause and flood the
 * window: while paused, resume() from anyone but `resume` here is ignored.
 */
export class OutputPause {
  paused = false;
  private readonly resumers: (() => ByteSource)[];

  constructor(private readonly streams: ByteSource[]) {
    this.resumers = streams.map((s) => {
      const resume = s.resume.bind(s);
      s.resume = () => (this.paused ? s : resume());
      return resume;
    });
  }

  pause(): void {
    this.paused = true;
    for (const s of this.streams) s.pause();
  }

  resume(): void {
    this.paused = false;
    for (const resume of this.resumers) resume();
  }
}
