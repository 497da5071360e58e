/** A counting semaphore: at most `limit` holders at once, waiters served in arrival order. */
export class Semaphore {
  #available: number;
  readonly #waiters: (() => void)[] = [];

  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
    this.#available = limit;
  }

  async acquire(): Promise<() => void> {
    if (this.#available > 0) this.#available--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#available++;
    };
  }

  get inUse(): number {
    return this.limit - this.#available;
  }
}
