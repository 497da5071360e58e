import { CodedError } from '../lib/errors.ts';

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
