import { randomUUID } from 'node:crypto';
import type { Job, JobEvent } from '../generated/prisma/client.ts';
import type { JobEventKind, JobStatus, Phase, QueueBackend } from '../generated/prisma/enums.ts';
import type { LedgerDb } from '../db/client.ts';
import { IllegalTransitionError, JobNotFoundError } from './errors.ts';
import { Batcher } from '../lib/batcher.ts';

export type { Job, JobEvent };

/**
 * The job ledger: every state change of a job is one conditional SQL statement that updates the
 * row and appends its events (with the next seq numbers) atomically. A statement whose WHERE
 * matches nothing changed nothing: that is how a duplicate delivery, a late worker or a lost race
 * is told apart from a real change, on every backend alike.
 */

interface EventSpec {
  kind: JobEventKind;
  /** Defaults to the job's new status. */
  status?: JobStatus;
  message?: string | null;
  data?: unknown;
}

/** Collects positional parameters while a statement is built. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  json(value: unknown): string {
    return `${this.add(value === undefined ? null : JSON.stringify(value))}::jsonb`;
  }
}

/** Independent batched writes (rows of different jobs) may overlap: a few in flight keep latency low. */
const OVERLAPPING = { inFlight: 4 };

const JOB_EVENT_COLUMNS = `"jobId", "seq", "kind", "status", "progress", "message", "data"`;

/** The end of a batched write: the jobs it changed (CTE j), each with the events it appended (CTE e). */
const JOBS_WITH_EVENTS = `SELECT j.*, ev.events AS "__events"
  FROM j LEFT JOIN (SELECT "jobId", json_agg(e ORDER BY e.seq) AS events FROM e GROUP BY "jobId") ev ON ev."jobId" = j.id`;

export interface NewJob {
  type: string;
  phase: Phase;
  input: unknown;
  maxAttempts: number;
  backend: QueueBackend;
  idempotencyKey?: string | null;
  priority?: number;
  delayMs?: number;
  createdBy?: string | null;
}

/** What one statement changed: the job as it now is, and the events it appended, in seq order. */
export interface Change {
  job: Job;
  events: JobEvent[];
}

export interface JobListFilter {
  first: number;
  after?: { createdAt: Date; id: string };
  status?: JobStatus[];
  type?: string;
  phase?: Phase;
  createdBy?: string;
}

export type ClaimOutcome =
  | { claimed: true; change: Change }
  /** Not due yet: a queue delivered it early. */
  | { claimed: false; reason: 'early'; job: Job }
  | { claimed: false; reason: 'gone' | 'not-queued' };

/** What must follow a write: publishing its events, and dispatching a job it left QUEUED. */
export type AfterWrite = (change: Change) => Promise<void>;

export class Ledger {
  #afterWrite: AfterWrite = async () => {};

  constructor(readonly db: LedgerDb) {}

  /**
   * Sets what follows every write that changed a job (see JobSystem: publish, and dispatch the job
   * if the write left it QUEUED). In one place, so no caller can write a QUEUED job and forget to
   * send it out; every transition below resolves only after it ran.
   */
  setAfterWrite(afterWrite: AfterWrite): void {
    this.#afterWrite = afterWrite;
  }

  async #after(change: Change | undefined): Promise<Change | undefined> {
    if (change) await this.#afterWrite(change);
    return change;
  }

  /**
   * This ledger's identity, made the first time it is asked for. Queue names and bus channels
   * carry it, so two deployments with ledgers of their own never take each other's deliveries.
   */
  async identity(): Promise<string> {
    const [row] = await this.db.query<{ id: string }>(
      `WITH made AS (
         INSERT INTO "LedgerIdentity" ("singleton", "id") VALUES (1, gen_random_uuid()) ON CONFLICT ("singleton") DO NOTHING RETURNING "id")
       SELECT "id" FROM made UNION ALL SELECT "id" FROM "LedgerIdentity" WHERE "singleton" = 1`,
    );
    if (!row) throw new Error('the ledger has no identity row'); // cannot happen: inserted above
    return row.id;
  }

  /**
   * Records a new job and its first event in one statement. With an idempotency key already used
   * for this task, returns the existing job instead (`deduplicated`). The row is leased for
   * dispatch (dispatchedAt = now), and the after-write step sends it to a queue.
   */
  async createJob(job: NewJob): Promise<{ job: Job; deduplicated: boolean }> {
    const change = await this.#creations.add(job);
    if (change) {
      await this.#after(change);
      return { job: change.job, deduplicated: false };
    }
    const existing = await this.db.query<Job>(`SELECT * FROM "Job" WHERE "type" = $1 AND "idempotencyKey" = $2`, [
      job.type,
      job.idempotencyKey,
    ]);
    if (!existing[0]) throw new Error('idempotency conflict without an existing job'); // cannot happen: unique index
    return { job: existing[0], deduplicated: true };
  }

  /** Jobs enqueued concurrently are inserted by one statement (one plan, one commit). */
  readonly #creations = new Batcher<NewJob, Change | undefined>(async (jobs) => {
    const ids = jobs.map(() => randomUUID());
    const delays = jobs.map((job) => Math.max(0, Math.round(job.delayMs ?? 0)));
    const rows = await this.db.query<Job & { __events: RawEvent[] }>(
      `WITH i AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[],
                              $9::int[], $10::text[], $11::text[]) WITH ORDINALITY
           AS i(id, type, phase, input, "maxAttempts", backend, key, priority, delay, "createdBy", message, n)),
       j AS (
         INSERT INTO "Job" ("id", "type", "phase", "status", "input", "maxAttempts", "backend", "idempotencyKey",
                            "priority", "runAt", "createdBy", "dispatchedAt", "lastSeq")
         SELECT i.id, i.type, i.phase::"Phase", 'QUEUED', i.input::jsonb, i."maxAttempts", i.backend::"QueueBackend", i.key,
                i.priority, now() + i.delay * interval '1 millisecond', i."createdBy", now(), 1
         FROM i ORDER BY i.type, i.key NULLS LAST, i.n
         ON CONFLICT ("type", "idempotencyKey") DO NOTHING
         RETURNING *),
       e AS (
         INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS})
         SELECT j.id, 1, 'STATUS'::"JobEventKind", 'QUEUED'::"JobStatus", 0, i.message, NULL FROM j JOIN i ON i.id = j.id
         RETURNING *)
       ${JOBS_WITH_EVENTS}`,
      [
        ids,
        jobs.map((job) => job.type),
        jobs.map((job) => job.phase),
        jobs.map((job) => JSON.stringify(job.input ?? null)),
        jobs.map((job) => job.maxAttempts),
        jobs.map((job) => job.backend),
        jobs.map((job) => job.idempotencyKey ?? null),
        jobs.map((job) => job.priority ?? 0),
        delays,
        jobs.map((job) => job.createdBy ?? null),
        delays.map((delay) => (delay > 0 ? `queued, due in ${delay} ms` : 'queued')),
      ],
      'jobgraph.createJob',
    );
    const created = new Map(rows.map((row) => [row.id, splitChange(row)]));
    return ids.map((id) => created.get(id));
  }, OVERLAPPING);

  async getJob(id: string): Promise<Job | undefined> {
    if (!isUuid(id)) return undefined;
    return (await this.db.query<Job>(`SELECT * FROM "Job" WHERE id = $1`, [id]))[0];
  }

  async requireJob(id: string): Promise<Job> {
    const job = await this.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  async events(jobId: string, opts: { afterSeq?: number; last?: number } = {}): Promise<JobEvent[]> {
    if (!isUuid(jobId)) return [];
    if (opts.last !== undefined) {
      const rows = await this.db.query<JobEvent>(
        `SELECT * FROM "JobEvent" WHERE "jobId" = $1 AND seq > $2 ORDER BY seq DESC LIMIT $3`,
        [jobId, opts.afterSeq ?? 0, opts.last],
      );
      return rows.reverse();
    }
    return this.db.query<JobEvent>(`SELECT * FROM "JobEvent" WHERE "jobId" = $1 AND seq > $2 ORDER BY seq`, [
      jobId,
      opts.afterSeq ?? 0,
    ]);
  }

  /**
   * A page of jobs, newest first, after a keyset cursor. Filters combine with AND; `createdBy`
   * restricts to one owner.
   */
  async listJobs(filter: JobListFilter): Promise<{ jobs: Job[]; hasNextPage: boolean }> {
    const p = new Params();
    const where: string[] = [];
    if (filter.status?.length) where.push(`"status" = ANY(${p.add(filter.status)}::"JobStatus"[])`);
    if (filter.type) where.push(`"type" = ${p.add(filter.type)}`);
    if (filter.phase) where.push(`"phase" = ${p.add(filter.phase)}::"Phase"`);
    if (filter.createdBy !== undefined) where.push(`"createdBy" = ${p.add(filter.createdBy)}`);
    if (filter.after) {
      where.push(`("createdAt", id) < (${p.add(filter.after.createdAt)}::timestamptz, ${p.add(filter.after.id)}::uuid)`);
    }
    const rows = await this.db.query<Job>(
      `SELECT * FROM "Job" ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY "createdAt" DESC, id DESC LIMIT ${p.add(filter.first + 1)}`,
      p.values,
    );
    return { jobs: rows.slice(0, filter.first), hasNextPage: rows.length > filter.first };
  }

  /**
   * Takes a delivered job for `workerId`: QUEUED → RUNNING, attempt + 1. Anything else (running
   * elsewhere, finished, cancelled, unknown) is a duplicate or stale delivery to drop.
   */
  async claim(jobId: string, workerId: string): Promise<ClaimOutcome> {
    if (!isUuid(jobId)) return { claimed: false, reason: 'gone' };
    const change = await this.#claims.add({ jobId, workerId });
    if (change) {
      await this.#after(change);
      return { claimed: true, change };
    }
    const current = await this.getJob(jobId);
    if (!current) return { claimed: false, reason: 'gone' };
    if (current.status === 'QUEUED') {
      return { claimed: false, reason: 'early', job: current };
    }
    return { claimed: false, reason: 'not-queued' };
  }

  /** Records progress of a job this worker holds; undefined when it no longer holds it. */
  async progress(jobId: string, workerId: string, percent: number, message: string | null): Promise<Change | undefined> {
    const p = new Params();
    return this.#transition(
      p,
      `"progress" = ${p.add(clampPercent(percent))}, "message" = coalesce(${p.add(message)}, "message"), "heartbeatAt" = now()`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND "status" IN ('RUNNING', 'CANCELLING')`,
      [{ kind: 'PROGRESS', message }],
      'progress',
    );
  }

  async log(jobId: string, workerId: string, message: string, data?: unknown): Promise<Change | undefined> {
    const p = new Params();
    return this.#transition(
      p,
      `"heartbeatAt" = now()`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND "status" IN ('RUNNING', 'CANCELLING')`,
      [{ kind: 'LOG', message, data }],
      'log',
    );
  }

  /** RUNNING → COMPLETED with the result; a job cancelled meanwhile ends CANCELLED instead. */
  async complete(jobId: string, workerId: string, result: unknown): Promise<Change | undefined> {
    return this.#after(await this.#completions.add({ jobId, workerId, result: JSON.stringify(result ?? null) }));
  }

  // Claims and completions are the two statements every job runs through on a worker: those of
  // concurrent deliveries share one statement (one plan, one commit), per worker.
  readonly #claims = new Batcher<{ jobId: string; workerId: string }, Change | undefined>((items) =>
    this.#perWorker(items, async (batch, workerId) => {
      const ids = [...new Set(batch.map((item) => item.jobId))];
      const rows = await this.db.query<Job & { __events: RawEvent[] }>(
        `WITH l AS MATERIALIZED (${lockInOrder(`id = ANY($1::uuid[]) AND "status" = 'QUEUED' AND "runAt" <= now() + interval '20 milliseconds'`)}),
         j AS (
           UPDATE "Job" SET "status" = 'RUNNING', "attempt" = "attempt" + 1, "lockedBy" = $2, "heartbeatAt" = now(),
             "startedAt" = coalesce("startedAt", now()), "nextRetryAt" = NULL, "lastSeq" = "lastSeq" + 1
           FROM l WHERE "Job".id = l.id AND "Job"."status" = 'QUEUED'
           RETURNING "Job".*),
         e AS (
           INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS})
           SELECT j.id, j."lastSeq", 'STATUS'::"JobEventKind", j."status", j."progress", $3::text, NULL FROM j
           RETURNING *)
         ${JOBS_WITH_EVENTS}`,
        [ids, workerId, `running on ${workerId}`],
        'jobgraph.claim',
      );
      return rows.map(splitChange);
    }),
    OVERLAPPING,
  );

  readonly #completions = new Batcher<{ jobId: string; workerId: string; result: string }, Change | undefined>((items) =>
    this.#perWorker(items, async (batch, workerId) => {
      const rows = await this.db.query<Job & { __events: RawEvent[] }>(
        `WITH l AS MATERIALIZED (${lockInOrder(`id = ANY($1::uuid[]) AND "lockedBy" = $3 AND "status" IN ('RUNNING', 'CANCELLING')`)}),
         c AS (SELECT c.* FROM unnest($1::uuid[], $2::text[]) AS c(id, result) JOIN l ON l.id = c.id),
         j AS (
           UPDATE "Job" SET
             "status" = CASE WHEN "Job"."status" = 'CANCELLING' THEN 'CANCELLED'::"JobStatus" ELSE 'COMPLETED'::"JobStatus" END,
             "result" = CASE WHEN "Job"."status" = 'CANCELLING' THEN NULL ELSE c.result::jsonb END,
             "progress" = CASE WHEN "Job"."status" = 'CANCELLING' THEN "Job"."progress" ELSE 100 END,
             "finishedAt" = now(), "lockedBy" = NULL, "lastSeq" = "Job"."lastSeq" + 1
           FROM c WHERE "Job".id = c.id AND "Job"."lockedBy" = $3 AND "Job"."status" IN ('RUNNING', 'CANCELLING')
           RETURNING "Job".*),
         e AS (
           INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS})
           SELECT j.id, j."lastSeq", 'STATUS'::"JobEventKind", j."status", j."progress", NULL, NULL FROM j
           RETURNING *)
         ${JOBS_WITH_EVENTS}`,
        [batch.map((item) => item.jobId), batch.map((item) => item.result), workerId],
        'jobgraph.complete',
      );
      return rows.map(splitChange);
    }),
    OVERLAPPING,
  );

  /**
   * Runs `write` once per worker id among `items` and answers each item with the change of its
   * job: the first item of a job gets it, a repeated one (a duplicate delivery) gets nothing.
   */
  async #perWorker<T extends { jobId: string; workerId: string }>(
    items: T[],
    write: (batch: T[], workerId: string) => Promise<Change[]>,
  ): Promise<(Change | undefined)[]> {
    const results: (Change | undefined)[] = new Array(items.length);
    for (const workerId of new Set(items.map((item) => item.workerId))) {
      const batch = items.filter((item) => item.workerId === workerId);
      const changes = new Map((await write(batch, workerId)).map((change) => [change.job.id, change]));
      items.forEach((item, i) => {
        if (item.workerId !== workerId) return;
        results[i] = changes.get(item.jobId);
        changes.delete(item.jobId);
      });
    }
    return results;
  }

  /** RUNNING or CANCELLING → FAILED (or CANCELLED when it was being cancelled). */
  async fail(jobId: string, workerId: string, error: { code: string; message: string }): Promise<Change | undefined> {
    const p = new Params();
    return this.#transition(
      p,
      `"status" = CASE WHEN "status" = 'CANCELLING' THEN 'CANCELLED'::"JobStatus" ELSE 'FAILED'::"JobStatus" END,
       "errorCode" = ${p.add(error.code)}, "errorMessage" = ${p.add(error.message)}, "finishedAt" = now(), "lockedBy" = NULL`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND "status" IN ('RUNNING', 'CANCELLING')`,
      [{ kind: 'STATUS', message: `${error.code}: ${error.message}` }],
      'fail',
    );
  }

  /**
   * A retryable failure: RUNNING → RETRYING → QUEUED, due in `delayMs`, leased for dispatch (the
   * after-write step sends it to a queue with that delay). The RETRYING step is recorded as an
   * ATTEMPT event carrying the error and the delay.
   */
  async scheduleRetry(
    jobId: string,
    workerId: string,
    error: { code: string; message: string },
    delayMs: number,
  ): Promise<Change | undefined> {
    const p = new Params();
    const delay = p.add(delayMs);
    return this.#transition(
      p,
      `"status" = 'QUEUED', "errorCode" = ${p.add(error.code)}, "errorMessage" = ${p.add(error.message)},
       "runAt" = now() + ${delay} * interval '1 millisecond', "nextRetryAt" = now() + ${delay} * interval '1 millisecond',
       "lockedBy" = NULL, "dispatchedAt" = now(), "queueRef" = NULL`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND "status" = 'RUNNING'`,
      [
        {
          kind: 'ATTEMPT',
          status: 'RETRYING',
          message: `attempt failed (${error.code}: ${error.message}); retrying in ${delayMs} ms`,
          data: { error, delayMs },
        },
        { kind: 'STATUS', message: `due in ${delayMs} ms` },
      ],
      'scheduleRetry',
    );
  }

  /**
   * Hands a running job back at shutdown: RUNNING → QUEUED without counting the attempt, into the
   * outbox rather than leased: this process's consumer may still fetch, and must not take it
   * again. The stopping process sends it out once its consumers are closed (or any other process's
   * sweep does). A job being cancelled ends CANCELLED.
   */
  async release(jobId: string, workerId: string, reason: string): Promise<Change | undefined> {
    const p = new Params();
    return this.#transition(
      p,
      `"status" = CASE WHEN "status" = 'CANCELLING' THEN 'CANCELLED'::"JobStatus" ELSE 'QUEUED'::"JobStatus" END,
       "attempt" = CASE WHEN "status" = 'CANCELLING' THEN "attempt" ELSE "attempt" - 1 END,
       "finishedAt" = CASE WHEN "status" = 'CANCELLING' THEN now() END,
       "lockedBy" = NULL, "heartbeatAt" = NULL, "dispatchedAt" = NULL, "queueRef" = NULL, "runAt" = now()`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND "status" IN ('RUNNING', 'CANCELLING')`,
      [{ kind: 'STATUS', message: reason }],
    );
  }

  /**
   * Cancels a job: a queued one ends CANCELLED at once; a running one goes CANCELLING until the
   * process holding it aborts it. Cancelling a job already cancelled (or being cancelled) returns
   * it unchanged; a completed or failed job cannot be cancelled.
   */
  async cancel(jobId: string, by: string | null): Promise<{ job: Job; change?: Change; queueRef: string | null }> {
    const before = await this.requireJob(jobId);
    const p = new Params();
    const change = await this.#transition(
      p,
      `"status" = CASE WHEN "status" = 'RUNNING' THEN 'CANCELLING'::"JobStatus" ELSE 'CANCELLED'::"JobStatus" END,
       "finishedAt" = CASE WHEN "status" = 'RUNNING' THEN NULL ELSE now() END,
       "nextRetryAt" = NULL, "dispatchedAt" = coalesce("dispatchedAt", now())`,
      `id = ${p.add(jobId)} AND "status" IN ('QUEUED', 'RETRYING', 'RUNNING')`,
      [{ kind: 'STATUS', message: by ? `cancelled by ${by}` : 'cancelled' }],
    );
    if (change) return { job: change.job, change, queueRef: before.queueRef };
    const current = await this.requireJob(jobId);
    if (current.status === 'CANCELLED' || current.status === 'CANCELLING') return { job: current, queueRef: null };
    throw new IllegalTransitionError(jobId, current.status, 'CANCELLED');
  }

  /** FAILED or CANCELLED → QUEUED as a new attempt with a fresh retry budget; leased for dispatch. */
  async retry(jobId: string, budget: number, by: string | null): Promise<Change> {
    const p = new Params();
    const change = await this.#transition(
      p,
      `"status" = 'QUEUED', "maxAttempts" = "attempt" + ${p.add(budget)}, "progress" = 0, "message" = NULL,
       "result" = NULL, "errorCode" = NULL, "errorMessage" = NULL, "finishedAt" = NULL, "nextRetryAt" = NULL,
       "runAt" = now(), "dispatchedAt" = now(), "queueRef" = NULL`,
      `id = ${p.add(jobId)} AND "status" IN ('FAILED', 'CANCELLED')`,
      [{ kind: 'STATUS', message: by ? `retried by ${by}` : 'retried' }],
    );
    if (change) return change;
    const current = await this.requireJob(jobId);
    throw new IllegalTransitionError(jobId, current.status, 'QUEUED');
  }

  // ── outbox ────────────────────────────────────────────────────────────────

  /**
   * Confirms a dispatch: the queue accepted the job under `queueRef`. Only for the lease taken at
   * `lease` (the job's dispatchedAt), so a slow confirmation cannot land on a later dispatch.
   * Confirmations of concurrent dispatches share one statement.
   */
  confirmDispatch(jobId: string, lease: Date, backend: QueueBackend, queueRef: string): Promise<void> {
    return this.#confirmations.add({ jobId, lease, backend, queueRef });
  }

  readonly #confirmations = new Batcher<{ jobId: string; lease: Date; backend: QueueBackend; queueRef: string }>(async (items) => {
    await this.db.query(
      `WITH l AS MATERIALIZED (${lockInOrder(`id = ANY($1::uuid[]) AND "status" = 'QUEUED'`)})
       UPDATE "Job" SET "queueRef" = c.ref, "backend" = c.backend::"QueueBackend"
       FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) AS c(id, lease, backend, ref), l
       WHERE "Job".id = c.id AND l.id = c.id AND "Job"."dispatchedAt" = c.lease AND "Job"."status" = 'QUEUED'`,
      [items.map((c) => c.jobId), items.map((c) => c.lease), items.map((c) => c.backend), items.map((c) => c.queueRef)],
      'jobgraph.confirmDispatch',
    );
  }, OVERLAPPING);

  /**
   * Puts a queued job back in the outbox: the queue refused it (for the lease taken at `lease`), or
   * whatever queue holds it cannot be trusted with it (`lease` null). The dispatcher loop sends it out.
   */
  async releaseDispatch(jobId: string, lease: Date | null): Promise<void> {
    await this.db.query(
      `UPDATE "Job" SET "dispatchedAt" = NULL, "queueRef" = NULL
       WHERE id = $1 AND "status" = 'QUEUED' AND ($2::timestamptz IS NULL OR "dispatchedAt" = $2::timestamptz)`,
      [jobId, lease],
    );
  }

  /**
   * The sweep: leases the queued jobs that must be sent to a queue now. Those in the outbox (never
   * dispatched, or given back), and those due for longer than `overdueMs` whose last dispatch is
   * as old, whatever queue was said to hold them: a queue can lose a job without a word (a flushed
   * or restarted Redis, a delivery whose claim could not be written, a process that died between
   * lease and enqueue). Re-sending one a queue still holds is harmless: adapters enqueue
   * idempotently by dispatch key (see Dispatcher's resendKey), and the claim drops a second
   * delivery. Each lease is renewed, so a job is re-sent at most once per `overdueMs`. Safe from
   * several processes at once.
   */
  async leaseForDispatch(limit: number, overdueMs: number): Promise<Job[]> {
    return this.db.query<Job>(
      `UPDATE "Job" SET "dispatchedAt" = now()
       WHERE id IN (
         SELECT id FROM "Job"
         WHERE "status" = 'QUEUED'
           AND ("dispatchedAt" IS NULL
             OR ("dispatchedAt" < now() - $2 * interval '1 millisecond' AND "runAt" < now() - $2 * interval '1 millisecond'))
         ORDER BY "priority" DESC, "runAt"
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [limit, overdueMs],
      'jobgraph.leaseForDispatch',
    );
  }

  /**
   * Forgets that a queue holds the queued jobs of `backend` (it went down and may have lost them),
   * so the sweep sends them out again; each job's history says why (`reason`). A duplicate delivery
   * is harmless: the claim drops it.
   */
  async forgetDispatches(backend: QueueBackend, reason: string): Promise<number> {
    const rows = await this.db.query<Job & { __events: RawEvent[] }>(
      `WITH l AS MATERIALIZED (${lockInOrder(`"status" = 'QUEUED' AND "backend" = $1::"QueueBackend" AND "queueRef" IS NOT NULL`)}),
       j AS (
         UPDATE "Job" SET "dispatchedAt" = NULL, "queueRef" = NULL, "lastSeq" = "Job"."lastSeq" + 1
         FROM l WHERE "Job".id = l.id AND "Job"."status" = 'QUEUED'
         RETURNING "Job".*),
       e AS (
         INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS})
         SELECT j.id, j."lastSeq", 'LOG'::"JobEventKind", j."status", j."progress", $2::text, NULL FROM j
         RETURNING *)
       ${JOBS_WITH_EVENTS}`,
      [backend, reason],
    );
    for (const row of rows) await this.#after(splitChange(row));
    return rows.length;
  }

  // ── liveness ──────────────────────────────────────────────────────────────

  /**
   * Refreshes the heartbeat of the jobs `workerId` runs; returns each one's status, or no entry for
   * a job this worker no longer holds (the reaper gave it away).
   */
  async heartbeat(workerId: string, jobIds: string[]): Promise<Map<string, JobStatus>> {
    await this.db.query(`UPDATE "Worker" SET "heartbeatAt" = now() WHERE id = $1`, [workerId]);
    if (jobIds.length === 0) return new Map();
    const rows = await this.db.query<{ id: string; status: JobStatus }>(
      `WITH l AS MATERIALIZED (${lockInOrder(`id = ANY($1::uuid[]) AND "lockedBy" = $2`)})
       UPDATE "Job" SET "heartbeatAt" = now() FROM l WHERE "Job".id = l.id AND "lockedBy" = $2 RETURNING "Job".id, "status"`,
      [jobIds, workerId],
      'jobgraph.heartbeat',
    );
    return new Map(rows.map((row) => [row.id, row.status]));
  }

  /** RUNNING or CANCELLING jobs whose heartbeat is older than `staleMs` (or, with 0, all of them). */
  async staleJobs(staleMs: number): Promise<Job[]> {
    return this.db.query<Job>(
      `SELECT * FROM "Job" WHERE "status" IN ('RUNNING', 'CANCELLING')
         AND ("heartbeatAt" IS NULL OR "heartbeatAt" < now() - $1 * interval '1 millisecond')
       ORDER BY "heartbeatAt" LIMIT 100`,
      [staleMs],
    );
  }

  /**
   * A job whose worker was lost: the attempt counts. With attempts left it is queued again at
   * once (leased for dispatch: the after-write step sends it out); otherwise it fails with WORKER_LOST. A job being
   * cancelled ends CANCELLED. The heartbeat must still be the stale one seen, so a worker that
   * just came back is not robbed.
   */
  async recoverLost(job: Job): Promise<Change | undefined> {
    const p = new Params();
    const lost = `worker ${job.lockedBy ?? '?'} stopped heartbeating during attempt ${job.attempt}`;
    const requeue = job.status === 'RUNNING' && job.attempt < job.maxAttempts;
    const where = `id = ${p.add(job.id)} AND "status" = ${p.add(job.status)}::"JobStatus"
       AND "lockedBy" IS NOT DISTINCT FROM ${p.add(job.lockedBy)}
       AND "heartbeatAt" IS NOT DISTINCT FROM ${p.add(job.heartbeatAt)}::timestamptz`;
    if (job.status === 'CANCELLING') {
      return this.#transition(p, `"status" = 'CANCELLED', "finishedAt" = now(), "lockedBy" = NULL`, where, [
        { kind: 'STATUS', message: lost },
      ]);
    }
    if (requeue) {
      return this.#transition(
        p,
        `"status" = 'QUEUED', "errorCode" = 'WORKER_LOST', "errorMessage" = ${p.add(lost)}, "lockedBy" = NULL,
         "heartbeatAt" = NULL, "runAt" = now(), "dispatchedAt" = now(), "queueRef" = NULL`,
        where,
        [
          { kind: 'ATTEMPT', status: 'RETRYING', message: lost, data: { error: { code: 'WORKER_LOST', message: lost } } },
          { kind: 'STATUS', message: 'requeued after a lost worker' },
        ],
      );
    }
    return this.#transition(
      p,
      `"status" = 'FAILED', "errorCode" = 'WORKER_LOST', "errorMessage" = ${p.add(lost)}, "finishedAt" = now(), "lockedBy" = NULL`,
      where,
      [{ kind: 'STATUS', message: `WORKER_LOST: ${lost}` }],
    );
  }

  async registerWorker(worker: { id: string; hostname: string; pid: number; backend: QueueBackend; concurrency: number }) {
    await this.db.query(
      `INSERT INTO "Worker" (id, hostname, pid, backend, concurrency) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET "heartbeatAt" = now(), "stoppedAt" = NULL`,
      [worker.id, worker.hostname, worker.pid, worker.backend, worker.concurrency],
    );
  }

  async unregisterWorker(workerId: string): Promise<void> {
    await this.db.query(`UPDATE "Worker" SET "stoppedAt" = now() WHERE id = $1`, [workerId]);
  }

  /** Runs the UPDATE and appends `events` with consecutive seqs, in one statement. */
  async #transition(p: Params, set: string, where: string, events: EventSpec[], name?: string): Promise<Change | undefined> {
    const n = events.length;
    const selects = events.map((event, i) => {
      const status = event.status ? `${p.add(event.status)}::"JobStatus"` : 'j."status"';
      const message = event.message === undefined ? 'NULL' : `${p.add(event.message)}::text`;
      return `SELECT j.id, j."lastSeq" - ${n - 1 - i}, '${event.kind}'::"JobEventKind", ${status}, j."progress", ${message}, ${p.json(event.data)} FROM j`;
    });
    const rows = await this.db.query<Job & { __events: RawEvent[] }>(
      `WITH j AS (UPDATE "Job" SET ${set}, "lastSeq" = "lastSeq" + ${n} WHERE ${where} RETURNING *),
       e AS (INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS}) ${selects.join(' UNION ALL ')} RETURNING *)
       SELECT j.*, (SELECT json_agg(e ORDER BY e.seq) FROM e) AS "__events" FROM j`,
      p.values,
      name && `jobgraph.${name}`,
    );
    return this.#after(rows[0] && splitChange(rows[0]));
  }
}

/**
 * The ids of the jobs matching `where`, locked in id order. Batched writes from several processes
 * (claims, completions, confirmations, heartbeats) then queue behind each other instead of
 * deadlocking. Sorting the ids given to `UPDATE … FROM unnest(…)` is not enough: the join picks
 * the order in which an UPDATE takes its rows. Use as `l AS MATERIALIZED (…)`.
 */
function lockInOrder(where: string): string {
  return `SELECT id FROM "Job" WHERE ${where} ORDER BY id FOR UPDATE`;
}

/** An event as json_agg renders it: timestamps are strings. */
type RawEvent = Omit<JobEvent, 'at'> & { at: string };

function splitChange(row: Job & { __events: RawEvent[] | null }): Change {
  const { __events, ...job } = row;
  return { job, events: (__events ?? []).map((event) => ({ ...event, at: new Date(event.at) })) };
}

function clampPercent(percent: number): number {
  if (!Number.isFinite(percent)) return 0;
  return Math.min(100, Math.max(0, percent));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
