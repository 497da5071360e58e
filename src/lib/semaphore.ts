/**
 * Gives a slot back. `wakeWatcher: false` when the caller is about to use the free slot itself
 * (e.g. a consumer that fetches again at once), so no one is woken to race it for nothing.
 */
export type Release = (opts?: { wakeWatcher?: boolean }) => void;

/**
 * A counting semaphore: at most `limit` holders at once. Waiting acquirers are served in arrival
 * order and before watchers (whenAvailable), who only learn that a slot came free.
 */
export class Semaphore {
  #available: number;
  readonly #takers = new Set<(release: Release) => void>();
  readonly #watchers = new Set<() => void>();

  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
    this.#available = limit;
  }

  /** A slot now, or undefined when none is free. */
  tryAcquire(): Release | undefined {
    if (this.#available === 0) return undefined;
    this.#available--;
    return this.#release();
  }

  /** A slot, once one is free; rejects with the signal's reason if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const take = (release: Release) => {
        signal?.removeEventListener('abort', abandon);
        resolve(release);
      };
      const abandon = () => {
        this.#takers.delete(take);
        reject(signal!.reason as Error);
      };
      this.#takers.add(take);
      signal?.addEventListener('abort', abandon, { once: true });
    });
  }

  /**
   * Resolves when a slot is free (at once if one is) or `signal` aborts, without taking it: a
   * watcher woken by a release may find the slot taken again by the time it acts.
   */
  whenAvailable(signal?: AbortSignal): Promise<void> {
    if (this.#available > 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#watchers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#watchers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  get inUse(): number {
    return this.limit - this.#available;
  }

  #release(): Release {
    let released = false;
    return ({ wakeWatcher = true } = {}) => {
      if (released) return;
      released = true;
      const [taker] = this.#takers;
      if (taker) {
        // The slot passes straight to the first waiting acquirer: it is never free in between.
        this.#takers.delete(taker);
        return taker(this.#release());
      }
      this.#available++;
      if (!wakeWatcher) return;
      const [watcher] = this.#watchers;
      watcher?.();
    };
  }
}
