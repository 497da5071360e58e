import { CodedError } from '../../lib/errors.ts';
import { describeIssues, type FieldIssue } from '../../lib/issues.ts';

/**
 * Named failures of an LlmClient. Each is a CodedError, so a task can tell them apart by class
 * and the ledger stores the code: a rate limit says when to come back, bad output says what did
 * not fit, unavailability is worth a plain retry.
 */

/** The provider asked us to wait (429, or 503 with Retry-After): retry no earlier than `retryAt`. */
export class LlmRateLimitedError extends CodedError {
  readonly retryAt: Date;
  constructor(retryAt: Date, message = `LLM provider is rate-limiting; retry after ${retryAt.toISOString()}`) {
    super('LLM_RATE_LIMITED', message);
    this.retryAt = retryAt;
  }
}

/** The answers did not fit the request's schema, after every attempt; `issues` are the last attempt's. */
export class LlmOutputError extends CodedError {
  readonly purpose: string;
  readonly attempts: number;
  readonly issues: FieldIssue[];
  constructor(purpose: string, attempts: number, issues: FieldIssue[]) {
    super(
      'LLM_BAD_OUTPUT',
      `LLM answer to "${purpose}" did not fit its schema after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describeIssues(issues)}`,
    );
    this.purpose = purpose;
    this.attempts = attempts;
    this.issues = issues;
  }
}

/** No usable answer: the endpoint is unreachable, failed (5xx without Retry-After, other non-2xx) or timed out. */
export class LlmUnavailableError extends CodedError {
  /** The HTTP status, when the endpoint answered at all. */
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('LLM_UNAVAILABLE', message, options);
    this.status = status;
  }
}
