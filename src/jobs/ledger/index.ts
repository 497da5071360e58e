/**
 * The job ledger: the truth about every job, in PostgreSQL (DATABASE_URL's or the embedded one). Its parts, one
 * concern each, share the database and one after-write step:
 *
 *   queries      reads: jobs, events, counts, workers, the ledger's identity
 *   transitions  the state machine's writes (states.ts): create, claim, complete, fail, retry, …
 *   outbox       which waiting jobs a queue holds, and the sweep's leases
 *   liveness     workers, heartbeats, and jobs whose worker was lost
 *   retention    finished jobs leaving once past their period; the tallies that outlive them
 *   runs         workflow runs: a run, its steps and its history, and the jobs its steps release
 *   limits       shared limits: takes, leases and pauses every process of a deployment sees
 *   sql          what their statements are built from
 */
import type { LedgerDb } from '../../db/client.ts';
import { Liveness } from './liveness.ts';
import { Outbox } from './outbox.ts';
import { LedgerQueries } from './queries.ts';
import { Retention } from './retention.ts';
import { RunLedger } from './runs.ts';
import type { AfterWrite, Change, LedgerContext } from './sql.ts';
import { JobTransitions } from './transitions.ts';
import { LimitLedger } from './limits.ts';
import { ScheduleLedger } from './schedules.ts';

export type { Job, JobEvent } from '../../generated/prisma/client.ts';
export type { AfterWrite, Change } from './sql.ts';
export { isUuid } from './sql.ts';
export type { JobFilter, JobListFilter, ThroughputRow, WorkerRow } from './queries.ts';
export type { LimitBounds, LimitUsage, TakeOutcome, WaitReason } from './limits.ts';
export type { RetentionPeriods, RetentionRules, RetentionSummary } from './retention.ts';
export type { ClaimOutcome, NewJob } from './transitions.ts';
export type { NewSchedule, ScheduleRow } from './schedules.ts';
export { ScheduleNameTakenError, ScheduleNotFoundError } from './schedules.ts';
export type { NewRun, RunSummary, RunEvent, RunListFilter, RunStep, RunView, StepJob, StepView, WorkflowRun } from './runs.ts';

export class Ledger {
  readonly queries: LedgerQueries;
  readonly transitions: JobTransitions;
  readonly outbox: Outbox;
  readonly liveness: Liveness;
  readonly retention: Retention;
  readonly runs: RunLedger;
  readonly limits: LimitLedger;
  readonly schedules: ScheduleLedger;
  #afterWrite: AfterWrite = async () => {};

  readonly db: LedgerDb;
  constructor(db: LedgerDb) {
    this.db = db;
    const ctx: LedgerContext = {
      db,
      after: async (change: Change | undefined) => {
        if (change) await this.#afterWrite(change);
        return change;
      },
    };
    this.queries = new LedgerQueries(db);
    this.transitions = new JobTransitions(ctx, this.queries);
    this.outbox = new Outbox(ctx);
    this.liveness = new Liveness(ctx);
    this.retention = new Retention(db);
    this.runs = new RunLedger(ctx);
    this.limits = new LimitLedger(db);
    this.schedules = new ScheduleLedger(db);
  }

  /**
   * Sets what follows every write that changed a job (see JobSystem: publish, and dispatch the job
   * if the write left it waiting). In one place, so no caller can write a waiting job and forget
   * to send it out; every write resolves only after it ran.
   */
  setAfterWrite(afterWrite: AfterWrite): void {
    this.#afterWrite = afterWrite;
  }
}
