/**
 * The job state machine, written down once.
 *
 *   QUEUED ──claim──▶ RUNNING ──success──▶ COMPLETED
 *     ▲  ▲              │ │ │
 *     │  └──shutdown────┘ │ └──no attempts left, NonRetryableError──▶ FAILED
 *     │  (handed back,    │
 *     │   not counted)    ├──retryable failure, worker lost──▶ RETRYING ──claim──▶ RUNNING
 *     │                   └──cancel──▶ CANCELLING ──handler returns, worker lost──▶ CANCELLED
 *     │
 *     │   QUEUED, RETRYING ──cancel──▶ CANCELLED
 *     └── retryJob: FAILED, CANCELLED ──▶ QUEUED (a new attempt)
 *
 * QUEUED and RETRYING are the two waiting statuses: RETRYING is a job whose attempt failed and
 * whose next attempt waits for its delay (Celery's RETRY), shown as such until a worker claims it.
 * CANCELLING ends CANCELLED, whatever the handler does once its signal is aborted.
 * COMPLETED, FAILED and CANCELLED are terminal; `retryJob` starts a terminal FAILED or CANCELLED
 * job again as a new attempt (FAILED/CANCELLED → QUEUED).
 *
 * THE INVARIANT ("a job accepted is never lost"): every non-terminal job in the ledger is held by
 * a live queue entry or a live worker, or it will be dispatched again within a bounded time.
 * Each non-terminal status has exactly one mechanism that enforces it, driven by the ledger alone:
 *
 *   QUEUED,     The sweep (Dispatcher.flush → Ledger.leaseForDispatch), every DISPATCH_INTERVAL_MS
 *   RETRYING    in every process: a job in the outbox goes out at once; a job due for longer than
 *               REDISPATCH_AFTER_MS whose last dispatch is as old goes out again, whatever queue
 *               was said to hold it. That covers every way a queue loses a job without a word:
 *               a flushed or restarted Redis, a delivery whose claim could not be written, a
 *               process that died between lease and enqueue. Re-sending is always safe: adapters
 *               enqueue idempotently by dispatch key (job id + seq) and the claim drops a second
 *               delivery; a re-send uses a second key, so an entry the queue holds out of
 *               reach (taken by a consumer that died before claiming) does not block it.
 *   RUNNING,    The reaper (Reaper.reap), by heartbeat: a job whose worker stopped heartbeating
 *   CANCELLING  for STALE_AFTER_MS is requeued (attempt counted, reason WORKER_LOST), failed when
 *               no attempts are left, or ends CANCELLED; a requeued job is RETRYING, and so the
 *               sweep's.
 *
 * Writes keep it too: every write that leaves a job waiting (QUEUED or RETRYING) either leases
 * it for dispatch in the same statement, and then one step after every write (Ledger.setAfterWrite,
 * wired in JobSystem) publishes its events and sends the job to a queue, or puts it in the outbox
 * (a hand-back at shutdown), which the sweep empties at its next round; a write that fails leaves
 * the job in a state one of the two mechanisms above owns. Batched writes lock their rows in id order and a statement that loses
 * a deadlock is run again (db/conflicts.ts), so concurrent processes never drop each other's work.
 */
import type { JobStatus } from '../generated/prisma/enums.ts';

export type { JobStatus };

/**
 * Every write the ledger makes to a job's status, with the statuses it may start from and where
 * each one leads. The ledger's conditional UPDATEs take their WHERE from here (`sourcesOf`), and
 * the history check in the tests reads the same table (`canTransition`).
 */
export const TRANSITIONS = {
  claim: { QUEUED: ['RUNNING'], RETRYING: ['RUNNING'] },
  complete: { RUNNING: ['COMPLETED'], CANCELLING: ['CANCELLED'] },
  fail: { RUNNING: ['FAILED'], CANCELLING: ['CANCELLED'] },
  /** The handler saw its cancel signal and returned. */
  acknowledgeCancel: { CANCELLING: ['CANCELLED'] },
  scheduleRetry: { RUNNING: ['RETRYING'] },
  /** Shutdown: handed back without counting the attempt. */
  release: { RUNNING: ['QUEUED'], CANCELLING: ['CANCELLED'] },
  cancel: { QUEUED: ['CANCELLED'], RETRYING: ['CANCELLED'], RUNNING: ['CANCELLING'] },
  retry: { FAILED: ['QUEUED'], CANCELLED: ['QUEUED'] },
  /** The reaper, for a job whose worker stopped heartbeating. */
  recoverLost: { RUNNING: ['RETRYING', 'FAILED'], CANCELLING: ['CANCELLED'] },
} as const satisfies Record<string, Partial<Record<JobStatus, readonly JobStatus[]>>>;

export type TransitionName = keyof typeof TRANSITIONS;

/** Waiting for a worker: the sweep's (dispatch, lease, confirm). */
export const WAITING_STATUSES = ['QUEUED', 'RETRYING'] as const satisfies readonly JobStatus[];
/** Held by a worker: the reaper's (heartbeat, progress, logs). */
export const HELD_STATUSES = ['RUNNING', 'CANCELLING'] as const satisfies readonly JobStatus[];
export const TERMINAL_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const satisfies readonly JobStatus[];
export const ACTIVE_STATUSES: readonly JobStatus[] = [...WAITING_STATUSES, ...HELD_STATUSES];

export function isTerminal(status: JobStatus): boolean {
  switch (status) {
    case 'COMPLETED':
    case 'FAILED':
    case 'CANCELLED':
      return true;
    case 'QUEUED':
    case 'RUNNING':
    case 'RETRYING':
    case 'CANCELLING':
      return false;
    default:
      return assertNever(status);
  }
}

export function isWaiting(status: JobStatus): boolean {
  return (WAITING_STATUSES as readonly JobStatus[]).includes(status);
}

/** The statuses `transition` may start from: the WHERE of its conditional UPDATE. */
export function sourcesOf(transition: TransitionName): JobStatus[] {
  return Object.keys(TRANSITIONS[transition]) as JobStatus[];
}

/** Whether some transition of the table moves a job from `from` to `to`. */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return Object.values(TRANSITIONS).some((moves) => (moves as Partial<Record<JobStatus, readonly JobStatus[]>>)[from]?.includes(to));
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
