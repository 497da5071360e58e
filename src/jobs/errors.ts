import { CodedError } from '../lib/errors.ts';
import type { FieldIssue } from '../lib/issues.ts';

/**
 * Named errors of the job system. Each is a CodedError: the GraphQL edge exposes its code as
 * `extensions.code` and the ledger stores it as the job's error code.
 */

/** Thrown by a handler for a failure that retrying cannot fix: the job fails at once. */
export class NonRetryableError extends CodedError {
  constructor(message: string, code = 'NON_RETRYABLE', options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Input that does not match the task's schema. Never retried. */
export class InvalidInputError extends CodedError {
  readonly issues: FieldIssue[];
  constructor(message: string, issues: FieldIssue[]) {
    super('INVALID_INPUT', message);
    this.issues = issues;
  }
}

/**
 * Thrown by a handler that knows when trying again makes sense (a provider's Retry-After): the
 * attempt counts, and the next one is due at `at` instead of after the backoff.
 */
export class RetryAtError extends CodedError {
  readonly at: Date;
  constructor(at: Date, message: string, code = 'RETRY_AT', options?: { cause?: unknown }) {
    super(code, message, options);
    this.at = at;
  }
}

export class UnknownTaskError extends CodedError {
  readonly task: string;
  constructor(task: string) {
    super('UNKNOWN_TASK', `No task named "${task}" is registered`);
    this.task = task;
  }
}

export class JobNotFoundError extends CodedError {
  readonly jobId: string;
  constructor(jobId: string) {
    super('JOB_NOT_FOUND', `Job ${jobId} does not exist`);
    this.jobId = jobId;
  }
}

/** A state change the state machine forbids, e.g. cancelling a completed job. */
export class IllegalTransitionError extends CodedError {
  constructor(jobId: string, from: string, to: string) {
    super('ILLEGAL_TRANSITION', `Job ${jobId} cannot go from ${from} to ${to}`);
  }
}

export class JobTimeoutError extends CodedError {
  constructor(timeoutMs: number) {
    super('TIMEOUT', `Job exceeded its timeout of ${timeoutMs} ms`);
  }
}

/** Why a running job's signal was aborted; the executor maps each to an outcome. */
export type AbortReason = 'cancel' | 'timeout' | 'shutdown' | 'lost';

export class JobAbortedError extends CodedError {
  readonly reason: AbortReason;
  constructor(reason: AbortReason) {
    super(ABORT_CODES[reason], `Job aborted: ${reason}`);
    this.reason = reason;
  }
}

const ABORT_CODES: Record<AbortReason, string> = {
  cancel: 'CANCELLED',
  timeout: 'TIMEOUT',
  shutdown: 'SHUTDOWN',
  lost: 'WORKER_LOST',
};

/**
 * An enqueue PostgreSQL did not answer, however often it was tried (see JobTransitions.createJob).
 * `jobIds` empty: nothing reached the ledger, so nothing was recorded. Otherwise each job may exist
 * under its id: the client reads `job(id)` once the ledger is back, or retries with an idempotency key.
 */
export class LedgerUnavailableError extends CodedError {
  readonly jobIds: string[];
  constructor(jobIds: string[], options?: { cause?: unknown }) {
    super(
      'LEDGER_UNAVAILABLE',
      jobIds.length === 0
        ? 'The job ledger (PostgreSQL) cannot be reached right now: nothing was recorded. Try again shortly.'
        : `The job ledger (PostgreSQL) stopped answering while the job was being recorded: it may exist as ${jobIds.join(', ')}. ` +
            'Read it with job(id) once the ledger is back, or retry with an idempotencyKey (a retry without one may create it twice).',
      options,
    );
    this.jobIds = jobIds;
  }

  /** What the GraphQL edge adds to extensions. */
  override get details(): Record<string, unknown> {
    return { recorded: this.jobIds.length === 0 ? 'NO' : 'UNKNOWN', jobIds: this.jobIds };
  }
}
