/**
 * The run and step state machines, written down once (as states.ts is for jobs). The run ledger's
 * conditional UPDATEs take their WHERE from here; the history check in the tests reads the same
 * tables.
 *
 *   run:   RUNNING ⇄ WAITING (an open gate and nothing running) ──▶ COMPLETED | FAILED | CANCELLED
 *          FAILED, CANCELLED, COMPLETED ──retryRun / rerunFrom──▶ RUNNING
 *   step:  PENDING ──release──▶ ACTIVE (a task: its job)  ──▶ COMPLETED | FAILED | CANCELLED
 *          PENDING ──open──▶ WAITING (a gate) ──approve──▶ COMPLETED, ──reject / past due──▶ REJECTED
 *          FAILED, REJECTED, CANCELLED, COMPLETED ──reset (retryRun, rerunFrom)──▶ PENDING
 *
 * THE INVARIANT, extended to runs: every RUNNING or WAITING run has a live step (a job the job
 * invariant keeps) or an open gate, or it is advanced within a bound. One mechanism keeps it: the
 * run sweep (RunAdvancer.sweep, every RUN_SWEEP_INTERVAL_MS in every process) advances every run
 * that has a step whose job ended, a PENDING step whose parents are all done, a gate past due, or
 * nothing live at all. The after-write step advances a run at once when one of its jobs ends; the
 * sweep is what makes it certain.
 */
import type { RunStatus, StepStatus } from '../../generated/prisma/enums.ts';

export type { RunStatus, StepStatus };

export const RUN_TRANSITIONS = {
  /** An open gate and nothing running. */
  wait: { RUNNING: ['WAITING'] },
  /** A task step released again (a gate decided, a step re-run). */
  resume: { WAITING: ['RUNNING'] },
  complete: { RUNNING: ['COMPLETED'], WAITING: ['COMPLETED'] },
  fail: { RUNNING: ['FAILED'], WAITING: ['FAILED'] },
  cancel: { RUNNING: ['CANCELLED'], WAITING: ['CANCELLED'], FAILED: ['CANCELLED'] },
  /** retryRun: the failed or cancelled steps again. */
  retry: { FAILED: ['RUNNING'], CANCELLED: ['RUNNING'] },
  /** rerunFrom: a step and everything downstream again, whatever the run's state but cancelled. */
  rerun: { FAILED: ['RUNNING'], COMPLETED: ['RUNNING'], WAITING: ['RUNNING'], RUNNING: ['RUNNING'] },
} as const satisfies Record<string, Partial<Record<RunStatus, readonly RunStatus[]>>>;

export const STEP_TRANSITIONS = {
  release: { PENDING: ['ACTIVE'] },
  /** Its input could not be made or was refused (a bug in the workflow, data that changed). */
  refuse: { PENDING: ['FAILED'] },
  open: { PENDING: ['WAITING'] },
  /** A task step's job ended. */
  settle: { ACTIVE: ['COMPLETED', 'FAILED', 'CANCELLED'] },
  approve: { WAITING: ['COMPLETED'] },
  reject: { WAITING: ['REJECTED'] },
  /** The run was cancelled: what never started never will. */
  cancel: { PENDING: ['CANCELLED'], WAITING: ['CANCELLED'] },
  reset: { FAILED: ['PENDING'], REJECTED: ['PENDING'], CANCELLED: ['PENDING'], COMPLETED: ['PENDING'], WAITING: ['PENDING'], PENDING: ['PENDING'] },
} as const satisfies Record<string, Partial<Record<StepStatus, readonly StepStatus[]>>>;

export type RunTransition = keyof typeof RUN_TRANSITIONS;
export type StepTransition = keyof typeof STEP_TRANSITIONS;

export const LIVE_RUN_STATUSES = ['RUNNING', 'WAITING'] as const satisfies readonly RunStatus[];

export function isLiveRun(status: RunStatus): boolean {
  return (LIVE_RUN_STATUSES as readonly RunStatus[]).includes(status);
}

/** The statuses `transition` may start from. */
export function runSources(transition: RunTransition): RunStatus[] {
  return Object.keys(RUN_TRANSITIONS[transition]) as RunStatus[];
}

export function stepSources(transition: StepTransition): StepStatus[] {
  return Object.keys(STEP_TRANSITIONS[transition]) as StepStatus[];
}

/** Whether some transition moves a run (or a step) from `from` to `to`. */
export function canMoveRun(from: RunStatus, to: RunStatus): boolean {
  return Object.values(RUN_TRANSITIONS).some((moves) => (moves as Partial<Record<RunStatus, readonly RunStatus[]>>)[from]?.includes(to));
}

export function canMoveStep(from: StepStatus, to: StepStatus): boolean {
  return Object.values(STEP_TRANSITIONS).some((moves) => (moves as Partial<Record<StepStatus, readonly StepStatus[]>>)[from]?.includes(to));
}

/** `"status" IN (…)` over constants of these tables. */
export function inStatuses(statuses: readonly string[], column = '"status"'): string {
  return `${column} IN (${statuses.map((status) => `'${status}'`).join(', ')})`;
}
