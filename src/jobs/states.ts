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
