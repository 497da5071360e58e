/**
 * Values between a producer that pushes and one consumer that awaits them, in order: a consumer
 * waiting is handed the next value at once, else it waits in the queue. Optionally bounded (the
 * oldest goes when full) and coalescing (a value may take the place of the last one waiting).
 * It ends once: after what waits has been taken, next() is done, or rejects once with the error
 * it ended with. A consumer that leaves (close) drops what waits.
 */

/** What next(timeoutMs) answers when nothing came within the time. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

export interface AsyncQueueOptions<T> {
  /** At most this many values wait; the oldest goes first. Default: no bound. */
  limit?: number;
  /** Whether `next` may take the place of `waiting`, the last value in the queue (e.g. a newer progress of the same job). */
  replaces?: (waiting: T, next: T) => boolean;
}

interface Waiter<T> {
  resolve: (result: IteratorResult<T, undefined> | typeof TIMED_OUT) => void;
  reject: (error: unknown) => void;
}

export class AsyncQueue<T> {
  readonly #items: T[] = [];
  #waiter: Waiter<T> | undefined;
  #end: { error?: unknown } | undefined;
  #finished = false;
  readonly #opts: AsyncQueueOptions<T>;

  constructor(opts: AsyncQueueOptions<T> = {}) {
    this.#opts = opts;
  }

  push(value: T): void {
    if (this.#finished || this.#end) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve({ done: false, value });
      return;
    }
    const last = this.#items.length - 1;
    if (last >= 0 && this.#opts.replaces?.(this.#items[last]!, value)) {
      this.#items[last] = value;
      return;
    }
    this.#items.push(value);
    if (this.#items.length > (this.#opts.limit ?? Infinity)) this.#items.shift();
  }

  /** Ends the queue after what waits in it; `failure`: next() then rejects once with its error. */
  end(failure?: { error: unknown }): void {
    if (this.#finished || this.#end) return;
    this.#end = failure ?? {};
    if (this.#waiter) this.#settle(this.#waiter);
  }

  /** The consumer leaves: what waits is dropped and a pending next() is done. */
  close(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#items.length = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
  }

  /** The next value; done once ended or closed; TIMED_OUT when `timeoutMs` passed without one. */
  next(timeoutMs?: number): Promise<IteratorResult<T, undefined> | typeof TIMED_OUT> {
    if (this.#items.length > 0) return Promise.resolve({ done: false, value: this.#items.shift()! });
    if (this.#finished) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => answer(TIMED_OUT), timeoutMs);
      const answer = (result: IteratorResult<T, undefined> | typeof TIMED_OUT) => {
        clearTimeout(timer);
        if (this.#waiter === waiter) this.#waiter = undefined;
        resolve(result);
      };
      const waiter: Waiter<T> = {
        resolve: answer,
        reject: (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (this.#end) this.#settle(waiter);
      else this.#waiter = waiter;
    });
  }

  /** Answers a waiting consumer with the end: done, or the error once. */
  #settle(waiter: Waiter<T>): void {
    this.#waiter = undefined;
    this.#finished = true;
    const end = this.#end!;
    if ('error' in end) waiter.reject(end.error);
    else waiter.resolve({ done: true, value: undefined });
  }
}
