/**
 * The job a piece of code runs for, without passing it down: the executor runs each handler inside
 * its job's scope, so what the core does on a handler's behalf (waiting on a shared limit) can write
 * to that job's history.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface JobScope {
  readonly jobId: string;
  /** A line in the job's history; never throws (a failed write is logged). */
  log(message: string, data?: unknown): Promise<void>;
}

const storage = new AsyncLocalStorage<JobScope>();

export function inJobScope<T>(scope: JobScope, work: () => T): T {
  return storage.run(scope, work);
}

/** The job whose handler this code runs in, if any. */
export function currentJob(): JobScope | undefined {
  return storage.getStore();
}
