import { CodedError } from '../lib/errors.ts';

/** A queue backend cannot be reached: an operation failed fast, or the chosen backend's probe failed at startup. */
export class QueueUnavailableError extends CodedError {
  constructor(message: string) {
    super('QUEUE_UNAVAILABLE', message);
  }
}
