import type { Logger } from '../lib/logger.ts';
import type { Change } from './ledger/index.ts';

/**
 * The listeners of JobService.onLocalChange, which the ledger's after-write step (start.ts) calls
 * for every write of this process. Synchronous and guarded: a listener can neither slow a write
 * down by awaiting nor fail it.
 */
export class LocalChanges {
  readonly #listeners = new Set<(change: Change) => void>();

  private readonly logger: Logger;
  constructor(logger: Logger) {
    this.logger = logger;
  }

  add(listener: (change: Change) => void): () => void {
    const entry = (change: Change) => listener(change); // its own entry: adding one listener twice counts twice
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  emit(change: Change): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger.warn({ err: error, jobId: change.job.id }, 'a local-change listener failed; the write stands');
      }
    }
  }
}
