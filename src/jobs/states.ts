/**
 * The job state machine, written down once.
 *
 *              claim                 success
 *   QUEUED ──────────────▶ RUNNING ─────────────▶ COMPLETED
 *     ▲ │                   │  │ │  failure, no attempts left / NonRetryableError
 *     │ │ cancel            │  │ └──────────────▶ FAILED
 *     │ ▼                   │  │  retryable failure, worker lost
 *     │ CANCELLED ◀──┐      │  └──────────────▶ RETRYING ──(delay scheduled)──▶ QUEUED
 *     │              │      │ cancel                 │ cancel
 *     │              └──────┼── CANCELLING ◀─────────┘ (RETRYING → CANCELLED directly)
 *     │                     │ shutdown: handed back, attempt not counted
 *     └─────────────────────┘
 *
 * CANCELLING ends CANCELLED, whatever the handler does once its signal is aborted.
 * COMPLETED, FAILED and CANCELLED are terminal; `retryJob` starts a terminal FAILED or CANCELLED
 * job again as a new attempt (FAILED/CANCELLED → QUEUED).
 *
 * THE INVARIANT ("a job accepted is never lost"): every non-terminal job in the ledger is held by
 * a live queue entry or a live worker, or it will be dispatched again within a bounded time.
 * Each non-terminal status has exactly one mechanism that enforces it, driven by the ledger alone:
 *
 *   QUEUED      The sweep (Dispatcher.flush → Ledger.leaseForDispatch), every DISPATCH_INTERVAL_MS
 *               in every process: a job in the outbox goes out at once; a job due for longer than
 *               REDISPATCH_AFTER_MS whose last dispatch is as old goes out again, whatever queue
 *               was said to hold it. That covers every way a queue loses a job without a word:
 *               a flushed or restarted Redis, a delivery whose claim could not be written, a
 *               process that died between lease and enqueue. Re-sending is always safe: adapters
 *               enqueue idempotently by dispatch key (job id + seq) and the claim drops a second
 *               delivery; a re-send uses a second key, so an entry the queue holds out of
 *               reach (taken by a consumer that died before claiming) does not block it.
 *   RUNNING,    The reaper (Reaper.reap), by heartbeat: a job whose worker stopped heartbeating
 *   CANCELLING  for STALE_AFTER_MS is requeued (attempt counted, reason WORKER_LOST), failed when
 *               no attempts are left, or ends CANCELLED; a requeued job is QUEUED, and so the
 *               sweep's.
 *   RETRYING    Never held by a row: recorded as an event on the way RUNNING → QUEUED.
 *
 * Writes keep it too: every write that leaves a job QUEUED either leases it for dispatch in the
 * same statement, and then one step after every write (Ledger.setAfterWrite, wired in JobSystem)
 * publishes its events and sends the job to a queue, or puts it in the outbox (a hand-back at
 * shutdown), which the sweep empties at its next round; a write that fails leaves the job in a state one of the
 * two mechanisms above owns. Batched writes lock their rows in id order and a statement that loses
 * a deadlock is run again (db/conflicts.ts), so concurrent processes never drop each other's work.
 */
import type { JobStatus } from '../generated/prisma/enums.ts';

export type { JobStatus };

const transitions: Record<JobStatus, readonly JobStatus[]> = {
  QUEUED: ['RUNNING', 'CANCELLED'],
  RUNNING: ['COMPLETED', 'FAILED', 'RETRYING', 'CANCELLING', 'QUEUED'],
  RETRYING: ['QUEUED', 'CANCELLED', 'FAILED'],
  CANCELLING: ['CANCELLED'],
  COMPLETED: [],
  FAILED: ['QUEUED'],
  CANCELLED: ['QUEUED'],
};

export const TERMINAL_STATUSES: readonly JobStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];
export const ACTIVE_STATUSES: readonly JobStatus[] = ['QUEUED', 'RUNNING', 'RETRYING', 'CANCELLING'];

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

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return transitions[from].includes(to);
}

/** The statuses a job may be in for a move to `to` (used as the WHERE of conditional updates). */
export function sourcesOf(to: JobStatus): JobStatus[] {
  return (Object.keys(transitions) as JobStatus[]).filter((from) => transitions[from].includes(to));
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
