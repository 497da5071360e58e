/**
 * What every adapter does the same way, once: the entry it carries, the timed probe, the bound on
 * an operation, consume()'s checks, the deliveries in flight and how a delivery is settled when its
 * handler rejects. An adapter file is then its backend's side of the contract (types.ts).
 */
import { errorText } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { QueueRefusedError, QueueUnavailableError } from './errors.ts';
import type { DeliveryHandler, ProbeResult } from './types.ts';

/** What an entry carries on every backend: routing is by the ledger's job id; the task is for inspection only. */
export interface EntryData {
  jobId: string;
  task: string;
}

/** enqueue, remove and counts fail as unavailable after this, whatever the backend does. */
export const OPERATION_TIMEOUT_MS = 5_000;

/** consume() waits this long for the backend, then resolves all the same (see QueueAdapter.consume). */
export const CONSUME_WAIT_MS = 3_000;

/**
 * probe(): runs `check` within `budgetMs` and never throws. `check` answers the detail of a healthy
 * backend, or `{ ok: false, detail }`; what it throws is the detail of an unhealthy one (`describe`
 * may word it, e.g. naming the host).
 */
export async function timedProbe(
  budgetMs: number,
  check: () => Promise<string | { ok: boolean; detail: string }>,
  describe: (error: unknown) => string = errorText,
): Promise<ProbeResult> {
  const started = performance.now();
  const result = (ok: boolean, detail: string): ProbeResult => ({ ok, detail, latencyMs: Math.round(performance.now() - started) });
  try {
    const outcome = await withTimeout(check(), budgetMs, () => new Error(`no answer within ${budgetMs} ms`));
    return typeof outcome === 'string' ? result(true, outcome) : result(outcome.ok, outcome.detail);
  } catch (error) {
    return result(false, describe(error));
  }
}

/**
 * Runs an operation on the backend within OPERATION_TIMEOUT_MS. Any failure but a refusal of the
 * entry (QueueRefusedError) is the backend being unavailable (QueueUnavailableError), which is
 * what the dispatcher acts on.
 */
export async function operation<T>(what: string, work: () => Promise<T>, timeoutMs = OPERATION_TIMEOUT_MS): Promise<T> {
  try {
    return await withTimeout(work(), timeoutMs, () => new QueueUnavailableError(`${what} timed out after ${timeoutMs} ms`));
  } catch (error) {
    if (error instanceof QueueUnavailableError || error instanceof QueueRefusedError) throw error;
    throw new QueueUnavailableError(`${what} failed: ${errorText(error)}`);
  }
}

/** consume()'s own checks, the same on every backend: once per adapter, a whole number of slots. */
export class ConsumeOnce {
  #called = false;

  get called(): boolean {
    return this.#called;
  }

  /** Throws for a second call or a concurrency outside 1..`max`; else marks consume() as called. */
  claim(concurrency: number, max = Number.MAX_SAFE_INTEGER): void {
    if (this.#called) throw new Error('consume() was already called on this adapter');
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > max) {
      throw new RangeError(`concurrency must be an integer in 1..${max}, got ${concurrency}`);
    }
    this.#called = true;
  }
}

/** The deliveries of one consumer that have not settled yet, to wait for when consumption stops. */
export class InFlight {
  readonly #deliveries = new Set<Promise<void>>();

  get size(): number {
    return this.#deliveries.size;
  }

  /** Adds a delivery until it settles; hands it back. */
  track(delivery: Promise<void>): Promise<void> {
    this.#deliveries.add(delivery);
    void delivery.finally(() => this.#deliveries.delete(delivery)).catch(() => {});
    return delivery;
  }

  /** Resolves once every delivery has settled, including those that started meanwhile. */
  async drain(): Promise<void> {
    while (this.#deliveries.size > 0) await Promise.allSettled([...this.#deliveries]);
  }
}

/**
 * Hands a delivery to the handler. The contract's answer to a handler that rejects: the delivery is
 * settled as if it had resolved (the entry leaves the queue), and the rejection is logged. The
 * core's handler records every outcome in the ledger and never rejects; the ledger's sweep sends
 * a job that is still waiting again, where redelivering at once would only loop.
 */
export async function deliver(handler: DeliveryHandler, jobId: string, log: Logger, context: Record<string, unknown> = {}): Promise<void> {
  try {
    await handler(jobId);
  } catch (error) {
    log.error({ err: error, jobId, ...context }, 'delivery handler rejected; the delivery is settled all the same');
  }
}
