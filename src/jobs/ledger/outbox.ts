/**
 * The outbox: which waiting jobs (QUEUED or RETRYING) a queue was given, and which the sweep must
 * send out. A job is leased for dispatch (dispatchedAt) by the write that left it waiting, then
 * confirmed with the queue's reference, or given back to the outbox when no queue took it.
 */
import type { Job } from '../../generated/prisma/client.ts';
import { Batcher } from '../../lib/batcher.ts';
import { WAITING_STATUSES } from '../states.ts';
import {
  lockIdsInOrder,
  lockInOrder,
  oneEventEach,
  OVERLAPPING,
  splitChange,
  statusIn,
  type JobWithEvents,
  WAITING_SCAN,
  type LedgerContext,
} from './sql.ts';

const WAITING = statusIn(WAITING_STATUSES);
const WAITING_JOB = statusIn(WAITING_STATUSES, '"Job"."status"');

export class Outbox {
  private readonly ctx: LedgerContext;
  constructor(ctx: LedgerContext) {
    this.ctx = ctx;
  }

  /**
   * Confirms a dispatch: the queue accepted the job under `queueRef`. Only for the lease taken at
   * `lease` (the job's dispatchedAt), so a slow confirmation cannot land on a later dispatch.
   * Confirmations of concurrent dispatches share one statement.
   */
  confirm(jobId: string, lease: Date, backend: string, queueRef: string): Promise<void> {
    return this.#confirmations.add({ jobId, lease, backend, queueRef });
  }

  readonly #confirmations = new Batcher<{ jobId: string; lease: Date; backend: string; queueRef: string }>(async (items) => {
    await this.ctx.db.query(
      `WITH l AS MATERIALIZED (${lockIdsInOrder('$1::uuid[]')})
       UPDATE "Job" SET "queueRef" = c.ref, "backend" = c.backend
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) AS c(id, lease, backend, ref), l
       WHERE "Job".id = c.id AND l.id = c.id AND "Job"."dispatchedAt" = c.lease AND ${statusIn(WAITING_STATUSES, 'l."status"')}`,
      [items.map((c) => c.jobId), items.map((c) => c.lease), items.map((c) => c.backend), items.map((c) => c.queueRef)],
      'jobgraph.confirmDispatch',
    );
  }, OVERLAPPING);

  /**
   * Puts a waiting job back in the outbox: no queue took it (for the lease taken at `lease`), or
   * whatever queue holds it cannot be trusted with it (`lease` null). The sweep sends it out.
   */
  async release(jobId: string, lease: Date | null): Promise<void> {
    await this.ctx.db.query(
      `UPDATE "Job" SET "dispatchedAt" = NULL, "queueRef" = NULL
       WHERE id = $1 AND ${WAITING} AND ($2::timestamptz IS NULL OR "dispatchedAt" = $2::timestamptz)`,
      [jobId, lease],
    );
  }

  /**
   * The sweep: leases the waiting jobs that must be sent to a queue now. Those in the outbox (never
   * dispatched, or given back), and those due for longer than `overdueMs` whose last dispatch is
   * as old, whatever queue was said to hold them: a queue can lose a job without a word (a flushed
   * or restarted Redis, a delivery whose claim could not be written, a process that died between
   * lease and enqueue). Re-sending one a queue still holds is harmless: adapters enqueue
   * idempotently by dispatch key (see Dispatcher's resendKey), and the claim drops a second
   * delivery. Each lease is renewed, so a job is re-sent at most once per `overdueMs`. Safe from
   * several processes at once. `reachMs`: the longest delay the queue holds (null: any); a job in
   * the outbox due later than that stays there until it is due within it.
   */
  async lease(limit: number, overdueMs: number, reachMs: number | null = null): Promise<Job[]> {
    return this.ctx.db.query<Job>(
      `UPDATE "Job" SET "dispatchedAt" = now()
       WHERE id IN (
         SELECT id FROM "Job"
         WHERE ${WAITING_SCAN}
           AND (("dispatchedAt" IS NULL AND ($3::float8 IS NULL OR "runAt" <= now() + $3 * interval '1 millisecond'))
             OR ("dispatchedAt" < now() - $2 * interval '1 millisecond' AND "runAt" < now() - $2 * interval '1 millisecond'))
         ORDER BY "priority" DESC, "runAt"
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [limit, overdueMs, reachMs],
      'jobgraph.leaseForDispatch',
    );
  }

  /**
   * Forgets that a queue holds the waiting jobs of `backend` (it went down and may have lost them),
   * so the sweep sends them out again; each job's history says why (`reason`). A duplicate delivery
   * is harmless: the claim drops it.
   */
  async forget(backend: string, reason: string): Promise<number> {
    const rows = await this.ctx.db.query<JobWithEvents>(
      `WITH l AS MATERIALIZED (${lockInOrder(`${WAITING_SCAN} AND "backend" = $1 AND "queueRef" IS NOT NULL`)}),
       j AS (
         UPDATE "Job" SET "dispatchedAt" = NULL, "queueRef" = NULL, "lastSeq" = "Job"."lastSeq" + 1
         FROM l WHERE "Job".id = l.id AND ${WAITING_JOB}
         RETURNING "Job".*),
       ${oneEventEach('LOG', '$2::text')}`,
      [backend, reason],
    );
    for (const row of rows) await this.ctx.after(splitChange(row));
    return rows.length;
  }
}
