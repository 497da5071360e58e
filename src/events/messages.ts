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
}

/** Orders from one process to the process that holds a job. */
export type ControlMessage = { kind: 'cancel'; jobId: string } | { kind: 'ping'; nonce: string };

export const MAX_BUS_MESSAGE = 1_000;
