import { CodedError } from '../lib/errors.ts';
import { PRIORITY_RANGE } from './types.ts';

/** A queue backend cannot be reached: an operation failed fast, or the chosen backend's probe failed at startup. */
export class QueueUnavailableError extends CodedError {
  constructor(message: string) {
    super('QUEUE_UNAVAILABLE', message);
  }
}

/**
 * The backend answered and refused this one entry (a priority or delay it cannot hold). The job
 * stays in the outbox and the backend is not marked down. Any other rejection of an adapter
 * counts as the backend being unavailable.
 */
export class QueueRefusedError extends CodedError {
  constructor(message: string) {
    super('QUEUE_REFUSED', message);
  }
}

/**
 * What every adapter refuses before it touches its backend: a priority outside PRIORITY_RANGE (or
 * not an integer), a delay longer than the backend holds. Returns the priority (0 when absent).
 * The job service refuses such a priority first (see jobs/enqueue-options.ts): this is the last guard.
 */
export function refuseUnfit(dispatch: { priority?: number | undefined; delayMs?: number | undefined }, maxDelayMs: number): number {
  const priority = dispatch.priority ?? 0;
  if (!Number.isInteger(priority) || priority < PRIORITY_RANGE.min || priority > PRIORITY_RANGE.max) {
    throw new QueueRefusedError(`priority must be an integer in ${PRIORITY_RANGE.min}..${PRIORITY_RANGE.max}, got ${priority}`);
  }
  const delayMs = dispatch.delayMs ?? 0;
  if (!(delayMs <= maxDelayMs)) {
    throw new QueueRefusedError(`a delay of ${delayMs} ms is longer than this backend holds (${maxDelayMs} ms): the ledger keeps the job until it is due`);
  }
  return priority;
}
