/**
 * Collects items added while a write is pending or in flight and writes them with one call, so N
 * concurrent callers cost one round trip instead of N. `write` returns one result per item, in
 * order (or nothing, for writes without results); each add() settles with its own. With
 * `inFlight` 1 (the default) batches are written one at a time, in the order items were added
 * (NOTIFYs must keep their order); more lets independent writes overlap.
 */
export class Batcher<T, R = void> {
  #pending: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  #writers = 0;

  private readonly write: (items: T[]) => Promise<R[] | void>;
  private readonly opts: { maxBatch?: number; inFlight?: number };

  constructor(write: (items: T[]) => Promise<R[] | void>, opts: { maxBatch?: number; inFlight?: number } = {}) {
    this.write = write;
    this.opts = opts;
  }

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#writers < (this.opts.inFlight ?? 1)) {
        this.#writers++;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.opts.maxBatch ?? 500);
      try {
        const results = await this.write(batch.map((entry) => entry.item));
        batch.forEach((entry, i) => entry.resolve((results ? results[i] : undefined) as R));
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.#writers--;
  }
}
