/** Listeners waiting for one thing to happen (a drain, a close): each runs once, at the next `fire`. */
export class Waiters {
  private list: (() => void)[] = [];

  add(listener: () => void): void {
    this.list.push(listener);
  }

  fire(): void {
    const listeners = this.list;
    this.list = [];
    for (const l of listeners) l();
  }

  clear(): void {
    this.list = [];
  }
}
