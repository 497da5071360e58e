import type { JobEventKind, JobStatus, Phase } from '../generated/prisma/enums.ts';

/** One change of one job, as published on the bus after it is written to the ledger. */
export interface JobChange {
  jobId: string;
  type: string;
  phase: Phase;
  seq: number;
  at: string;
  kind: JobEventKind;
  status: JobStatus;
  progress: number;
  /** Cut to MAX_BUS_MESSAGE chars (NOTIFY payloads are small); the ledger has it whole. */
  message: string | null;
  attempt: number;
  /** Owner, so subscriptions can filter what a caller may see without reading the ledger. */
  createdBy: string | null;
  /** The workflow run it is a step of, if any. */
  runId: string | null;
}

/** A workflow run moved (a step, a gate decision, its status): subscribers read it again. */
export interface RunChange {
  runId: string;
  seq: number;
}

/**
 * Orders between processes: cancel to the process that holds a job; dispatch to worker
 * processes, from one that left new jobs in the outbox for want of a queue of its own (an API
 * beside workers with in-process queues), so they are sent out now rather than at the next sweep.
 */
export type ControlMessage = { kind: 'cancel'; jobId: string } | { kind: 'ping'; nonce: string } | { kind: 'dispatch' };

export const MAX_BUS_MESSAGE = 1_000;
