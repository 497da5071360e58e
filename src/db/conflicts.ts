/**
 * PostgreSQL's answers that mean "this statement lost a race and was rolled back whole; running it
 * again is correct": deadlock_detected and serialization_failure. Batched writes from several
 * processes take row locks on the same jobs; even in one order (see the ledger's `FOR UPDATE`
 * ordering) a foreign-key check or an index can still meet another writer, and a write that gives
 * up here would leave its jobs to nobody.
 */
const RETRYABLE_CODES = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 8;

export function isConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && RETRYABLE_CODES.has(String((error as { code?: unknown }).code));
}

/** Runs `statement`, again after a short random pause each time it loses a conflict. */
export async function retryOnConflict<T>(statement: () => Promise<T>, onRetry?: (error: unknown, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
      onRetry?.(error, attempt);
      // Random, so the two losers of one deadlock do not meet again at once.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** Math.min(attempt, 5)));
    }
  }
}

/** Connection-level answers: the server went away or is starting; the statement may not have run. */
const CONNECTION_CODES = new Set([
  ...['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006'], // PostgreSQL
  ...['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'], // the socket
  ...['P1001', 'P1002', 'P1017'], // Prisma: cannot reach the server, timed out, server closed the connection
]);
const CONNECTION_MESSAGES = /Connection terminated|connection error|timeout exceeded when trying to connect|Connection ended|not queryable/i;

/**
 * Whether `error` says the database could not be reached (down, restarting, connection cut), as
 * opposed to a statement it refused. Such a statement may or may not have committed: only writes
 * whose second run is harmless (conditional transitions) may be retried on it.
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return CONNECTION_CODES.has(String(code)) || CONNECTION_MESSAGES.test(String(message ?? ''));
}

const NOT_SENT = Symbol('jobgraph.notSent');

/** Marks an error of connecting (see LedgerDb.query): the statement it was for never ran. */
export function markNotSent(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) Object.defineProperty(error, NOT_SENT, { value: true });
  return error;
}

/** Whether a connection error happened before the statement was sent (so it certainly did not run). */
export function isNotSent(error: unknown): boolean {
  return typeof error === 'object' && error !== null && NOT_SENT in error;
}

/** A write PostgreSQL did not answer within the window; `mayHaveRun`: one attempt reached the server. */
export class UnansweredError extends Error {
  readonly mayHaveRun: boolean;
  constructor(mayHaveRun: boolean, cause: unknown) {
    super(`the database did not answer: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.mayHaveRun = mayHaveRun;
    this.name = 'UnansweredError';
  }
}

/**
 * Runs `statement`, again while PostgreSQL cannot be reached (down, restarting, connection cut),
 * for up to `windowMs`; then throws UnansweredError. Only for statements whose second run is
 * harmless (conditional, or keyed by an id chosen before the first). `attempts`: how many ran.
 */
export async function whileUnreachable<T>(
  statement: () => Promise<T>,
  opts: { windowMs: number; onRetry?: (error: unknown) => void },
): Promise<{ value: T; attempts: number }> {
  const deadline = Date.now() + opts.windowMs;
  let mayHaveRun = false;
  for (let attempt = 1, pause = 100; ; attempt++, pause = Math.min(pause * 2, 1_000)) {
    try {
      return { value: await statement(), attempts: attempt };
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      mayHaveRun ||= !isNotSent(error);
      if (Date.now() + pause > deadline) throw new UnansweredError(mayHaveRun, error);
      opts.onRetry?.(error);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
