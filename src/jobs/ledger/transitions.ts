/**
 * The writes that move a job through the state machine (states.ts). Each is one conditional
 * statement that updates the row and appends its events atomically; its WHERE on status comes from
 * the state table (`guard`). Every write that changed a job runs the after-write step before it
 * resolves.
 */
import type { Job } from '../../generated/prisma/client.ts';
import type { Phase } from '../../generated/prisma/enums.ts';
import { Batcher } from '../../lib/batcher.ts';
import { timeOrderedUuid } from '../../lib/uuid.ts';
import { UnansweredError, whileUnreachable } from '../../db/conflicts.ts';
import { IllegalTransitionError, LedgerUnavailableError } from '../errors.ts';
import { HELD_STATUSES, isWaiting } from '../states.ts';
import type { LedgerQueries } from './queries.ts';
import {
  clampPercent,
  FAIR_RANKS,
  guard,
  isUuid,
  JOB_EVENT_COLUMNS,
  JOBS_WITH_EVENTS,
  lockIdsInOrder,
  oneEventEach,
  OVERLAPPING,
  Params,
  RUN_NOT_CANCELLED,
  KEY_ADMISSIONS,
  KEY_ADMITTED,
  splitChange,
  statusIn,
  updateJob,
  type Change,
  type EventSpec,
  type JobWithEvents,
  type LedgerContext,
} from './sql.ts';

export interface NewJob {
  type: string;
  phase: Phase;
  input: unknown;
  maxAttempts: number;
  backend: string;
  idempotencyKey?: string | null;
  priority?: number;
  delayMs?: number;
  createdBy?: string | null;
  /** A workflow run's step: the run and the step's name. */
  runId?: string | null;
  step?: string | null;
  /** TaskDefinition.concurrencyKey: the key, how many at once; singletonKey for policy 'drop'. */
  concurrencyKey?: string | null;
  concurrencyLimit?: number | null;
  singletonKey?: string | null;
  /** TaskDefinition.debounce: the key; delayMs is its window. */
  debounceKey?: string | null;
  /** Fairness: the group the job takes turns in (who enqueued it, by default). */
  fairGroup?: string | null;
  /** The schedule whose tick made the job. */
  scheduleId?: string | null;
  /** Labels to find the job by (the task's and the enqueue's). */
  tags?: readonly string[];
  /** W3C trace context of the enqueuing span, for the worker's spans to join. */
  traceparent?: string | null;
}

export type ClaimOutcome =
  | { claimed: true; change: Change }
  /** Not due yet: a queue delivered it early. */
  | { claimed: false; reason: 'early'; job: Job }
  /** Its concurrency key has as many jobs running as it allows: it waits its turn. */
  | { claimed: false; reason: 'busy'; job: Job }
  | { claimed: false; reason: 'gone' | 'not-waiting' };

const HELD = statusIn(HELD_STATUSES);

/**
 * How long an enqueue keeps writing while PostgreSQL does not answer (a restart, a cut connection)
 * before it tells the client: long enough for a blip, short enough for a request.
 */
const UNANSWERED_WRITE_WINDOW_MS = 3_000;

export class JobTransitions {
  private readonly ctx: LedgerContext;
  private readonly queries: LedgerQueries;
  constructor(ctx: LedgerContext, queries: LedgerQueries) {
    this.ctx = ctx;
    this.queries = queries;
  }

  /**
   * Records a new job and its first event in one statement. With an idempotency key already used
   * for this task, returns the existing job instead (`deduplicated`). The row is leased for
   * dispatch (dispatchedAt = now), and the after-write step sends it to a queue.
   *
   * A write whose answer is lost (the connection cut, PostgreSQL restarting) may have committed.
   * It is written again under the same job ids, which makes the second run harmless: a job the
   * first run recorded is found by its id and answered as created. Past the window, the caller
   * hears whether the job may exist (LedgerUnavailableError: recorded UNKNOWN, with its id) or
   * certainly does not (recorded false: no statement reached PostgreSQL).
   */
  async createJob(job: NewJob, attempt = 1): Promise<{ job: Job; deduplicated: boolean }> {
    // Chosen here, before the write: the id is the write's own key when it has to be run again.
    // Time-ordered, so the job's and its events' index entries go where the last ones went.
    const id = timeOrderedUuid();
    const change = await this.#creations.add({ ...job, id }).catch((error: unknown) => {
      // The batch shares one error; a client hears only of its own job.
      if (error instanceof LedgerUnavailableError && error.jobIds.length > 0) throw new LedgerUnavailableError([id], { cause: error.cause });
      throw error;
    });
    if (change) {
      await this.ctx.after(change);
      return { job: change.job, deduplicated: false };
    }
    // Not inserted: a unique key is taken. The job that holds it answers the enqueue.
    if (job.idempotencyKey) {
      const existing = await this.queries.byIdempotencyKey(job.type, job.idempotencyKey);
      if (existing) return { job: existing, deduplicated: true };
    }
    if (job.singletonKey) {
      const live = await this.queries.liveBySingletonKey(job.type, job.singletonKey);
      if (live) return { job: live, deduplicated: true };
    }
    if (job.debounceKey) {
      const debounced = await this.#debounce(job);
      if (debounced) return { job: debounced.job, deduplicated: true };
    }
    // The job holding the key ended (or started) in between: enqueue again, which now goes in.
    if (attempt < 3) return this.createJob(job, attempt + 1);
    throw new Error(`job of ${job.type} not recorded: its keys stayed taken by jobs that could not be found (${JSON.stringify({ idempotencyKey: job.idempotencyKey, singletonKey: job.singletonKey, debounceKey: job.debounceKey })})`);
  }

  /**
   * A debounced enqueue: the job of its key that has not started takes the new input and waits
   * the window (delayMs) again, from now; undefined when there is none (it has started meanwhile).
   */
  async #debounce(job: NewJob): Promise<Change | undefined> {
    const p = new Params();
    const delay = Math.max(0, Math.round(job.delayMs ?? 0));
    return this.#write(
      p,
      `"input" = ${p.json(job.input)}, "runAt" = now() + ${p.add(delay)} * interval '1 millisecond', "dispatchedAt" = now(), "queueRef" = NULL`,
      `"type" = ${p.add(job.type)} AND "debounceKey" = ${p.add(job.debounceKey)} AND "status" = 'QUEUED' AND "attempt" = 0`,
      [{ kind: 'LOG', message: `debounced: a later enqueue replaced the input; due in ${delay} ms` }],
      'debounce',
    );
  }

  /** Jobs enqueued concurrently are inserted by one statement (one plan, one commit). */
  readonly #creations = new Batcher<NewJob & { id: string }, Change | undefined>(async (jobs) => {
    const ids = jobs.map((job) => job.id);
    const delays = jobs.map((job) => Math.max(0, Math.round(job.delayMs ?? 0)));
    const insert = () =>
      this.ctx.db.query<JobWithEvents>(
        `WITH i AS (
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::int[],
                                $9::int[], $10::text[], $11::text[], $12::uuid[], $13::text[],
                                $14::text[], $15::int[], $16::text[], $17::text[], $18::text[],
                                $19::uuid[], $20::text[], $21::text[]) WITH ORDINALITY
             AS i(id, type, phase, input, "maxAttempts", backend, key, priority, delay, "createdBy", message, "runId", step,
                  "concurrencyKey", "concurrencyLimit", "singletonKey", "debounceKey", "fairGroup",
                  "scheduleId", tags, traceparent, n)),
         ${FAIR_RANKS},
         j AS (
           INSERT INTO "Job" ("id", "type", "phase", "status", "input", "maxAttempts", "backend", "idempotencyKey",
                              "priority", "runAt", "createdBy", "dispatchedAt", "lastSeq", "runId", "step",
                              "concurrencyKey", "concurrencyLimit", "singletonKey", "debounceKey", "fairGroup", "fairRank",
                              "scheduleId", "tags", "traceparent")
           SELECT i.id, i.type, i.phase::"Phase", 'QUEUED', i.input::jsonb, i."maxAttempts", i.backend, i.key,
                  i.priority, now() + i.delay * interval '1 millisecond', i."createdBy", now(), 1, i."runId", i.step,
                  i."concurrencyKey", i."concurrencyLimit", i."singletonKey", i."debounceKey", i."fairGroup", r.rank,
                  i."scheduleId", ARRAY(SELECT jsonb_array_elements_text(i.tags::jsonb)), i.traceparent
           FROM i JOIN r ON r.id = i.id ORDER BY i.type, i.key NULLS LAST, i.n
           ON CONFLICT DO NOTHING
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
          jobs.map((job) => job.runId ?? null),
          jobs.map((job) => job.step ?? null),
          jobs.map((job) => job.concurrencyKey ?? null),
          jobs.map((job) => job.concurrencyLimit ?? null),
          jobs.map((job) => job.singletonKey ?? null),
          jobs.map((job) => job.debounceKey ?? null),
          jobs.map((job) => job.fairGroup ?? null),
          jobs.map((job) => job.scheduleId ?? null),
          // Arrays of arrays do not unnest row by row: each job's tags go as one JSON array.
          jobs.map((job) => JSON.stringify(job.tags ?? [])),
          jobs.map((job) => job.traceparent ?? null),
        ],
        'jobgraph.createJob',
      );
    const created = new Map<string, Change>();
    // One window for the write and the read after it: the caller waits at most that long.
    const deadline = Date.now() + UNANSWERED_WRITE_WINDOW_MS;
    const windowMs = () => Math.max(0, deadline - Date.now());
    await this.#answered(ids, async () => {
      const { value: rows, attempts } = await whileUnreachable(insert, { windowMs: windowMs() });
      for (const row of rows) created.set(row.id, splitChange(row));
      // An earlier run may have committed what this one found already there: those jobs are this
      // request's, found by the ids chosen for it.
      const missing = ids.filter((id) => !created.has(id));
      if (attempts > 1 && missing.length > 0) {
        const { value: found } = await whileUnreachable(() => this.#withFirstEvent(missing), { windowMs: windowMs() });
        for (const row of found) created.set(row.id, splitChange(row));
      }
    });
    return ids.map((id) => created.get(id));
  }, OVERLAPPING);

  /** Runs the creation of `ids`; an unanswered write becomes LedgerUnavailableError saying whether they may exist. */
  async #answered(ids: string[], write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (!(error instanceof UnansweredError)) throw error;
      throw new LedgerUnavailableError(error.mayHaveRun ? ids : [], { cause: error.cause });
    }
  }

  /** Jobs by id with their first event, as the creation returned them. */
  #withFirstEvent(ids: string[]): Promise<JobWithEvents[]> {
    return this.ctx.db.query<JobWithEvents>(
      `SELECT j.*, (SELECT json_agg(e ORDER BY e.seq) FROM "JobEvent" e WHERE e."jobId" = j.id AND e.seq = 1) AS "__events"
       FROM "Job" j WHERE j.id = ANY($1::uuid[])`,
      [ids],
    );
  }

  /**
   * Takes a delivered job for `workerId`: QUEUED or RETRYING → RUNNING, attempt + 1. Anything else
   * (running elsewhere, finished, cancelled, unknown) is a duplicate or stale delivery to drop.
   */
  async claim(jobId: string, workerId: string): Promise<ClaimOutcome> {
    if (!isUuid(jobId)) return { claimed: false, reason: 'gone' };
    const change = await this.#claims.add({ jobId, workerId });
    if (change) {
      await this.ctx.after(change);
      return { claimed: true, change };
    }
    const current = await this.queries.getJob(jobId);
    if (!current) return { claimed: false, reason: 'gone' };
    if (isWaiting(current.status) && current.runId && (await this.#runCancelled(current.runId))) {
      // A step of a cancelled run: cancelled here rather than run (or sent round again). Should
      // this write fail, the run sweep cancels it (a cancelled run's waiting jobs are its own).
      await this.cancel(jobId, 'its run').catch(() => undefined);
      return { claimed: false, reason: 'not-waiting' };
    }
    // Due (by this clock, give or take a second) yet not taken: its concurrency key is busy.
    if (isWaiting(current.status) && current.concurrencyKey && current.runAt.getTime() <= Date.now() + 1_000) return { claimed: false, reason: 'busy', job: current };
    if (isWaiting(current.status)) return { claimed: false, reason: 'early', job: current };
    return { claimed: false, reason: 'not-waiting' };
  }

  /**
   * A job whose concurrency key is busy waits its turn in the ledger: due again after `waitMs`
   * (a bound, in case no one wakes it), sent to the queue for then, with why in its history and
   * in `waitingOn`. Undefined when it is no longer waiting.
   */
  async park(jobId: string, waitMs: number, waitingOn: string): Promise<Change | undefined> {
    const p = new Params();
    return this.#write(
      p,
      `"runAt" = now() + ${p.add(Math.max(0, Math.round(waitMs)))} * interval '1 millisecond', "dispatchedAt" = now(), "queueRef" = NULL, "waitingOn" = ${p.add(waitingOn)}`,
      `id = ${p.add(jobId)} AND ${statusIn(['QUEUED', 'RETRYING'])}`,
      [{ kind: 'LOG', message: `waiting its turn: ${waitingOn}` }],
      'park',
    );
  }

  /**
   * A job of a concurrency key ended: up to `n` of the key's jobs waiting their turn (oldest
   * first, by priority) are due now and sent out again. Returns how many.
   */
  async wakeKey(type: string, key: string, n: number): Promise<number> {
    const waiting = await this.ctx.db.query<{ id: string }>(
      `SELECT id FROM "Job" WHERE "type" = $1 AND "concurrencyKey" = $2 AND ${statusIn(['QUEUED', 'RETRYING'])} AND "waitingOn" IS NOT NULL
       ORDER BY "priority" DESC, "createdAt", id LIMIT $3`,
      [type, key, n],
    );
    let woken = 0;
    for (const { id } of waiting) {
      const p = new Params();
      const change = await this.#write(
        p,
        `"runAt" = least("runAt", now()), "dispatchedAt" = now(), "queueRef" = NULL`,
        `id = ${p.add(id)} AND ${statusIn(['QUEUED', 'RETRYING'])} AND "waitingOn" IS NOT NULL`,
        [{ kind: 'LOG', message: 'its turn: a job of its concurrency key ended' }],
        'wake',
      );
      if (change) woken++;
    }
    return woken;
  }

  async #runCancelled(runId: string): Promise<boolean> {
    const rows = await this.ctx.db.query(`SELECT 1 FROM "WorkflowRun" WHERE id = $1 AND "status" = 'CANCELLED'`, [runId]);
    return rows.length > 0;
  }

  /** Records progress of a job this worker holds; undefined when it no longer holds it. */
  async progress(jobId: string, workerId: string, percent: number, message: string | null): Promise<Change | undefined> {
    const p = new Params();
    return this.#write(
      p,
      `"progress" = ${p.add(clampPercent(percent))}, "message" = coalesce(${p.add(message)}, "message"), "heartbeatAt" = now()`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND ${HELD}`,
      [{ kind: 'PROGRESS', message }],
      'progress',
    );
  }

  async log(jobId: string, workerId: string, message: string, data?: unknown): Promise<Change | undefined> {
    const p = new Params();
    return this.#write(
      p,
      `"heartbeatAt" = now()`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND ${HELD}`,
      [{ kind: 'LOG', message, data }],
      'log',
    );
  }

  /**
   * Saves a running job's checkpoint (no event: it is the task's memory, not its history); false
   * when this worker no longer holds the job.
   */
  async saveCheckpoint(jobId: string, workerId: string, state: unknown): Promise<boolean> {
    const rows = await this.ctx.db.query(
      `UPDATE "Job" SET "checkpoint" = $3::jsonb, "heartbeatAt" = now() WHERE id = $1 AND "lockedBy" = $2 AND ${HELD} RETURNING id`,
      [jobId, workerId, JSON.stringify(state ?? null)],
      'jobgraph.checkpoint',
    );
    return rows.length > 0;
  }

  /** RUNNING → COMPLETED with the result; a job cancelled meanwhile ends CANCELLED instead. */
  async complete(jobId: string, workerId: string, result: unknown): Promise<Change | undefined> {
    return this.ctx.after(await this.#completions.add({ jobId, workerId, result: JSON.stringify(result ?? null) }));
  }

  // Claims and completions are the two statements every job runs through on a worker: those of
  // concurrent deliveries share one statement (one plan, one commit), per worker.
  readonly #claims = new Batcher<{ jobId: string; workerId: string }, Change | undefined>((items) =>
    perWorker(items, async (batch, workerId) => {
      const ids = [...new Set(batch.map((item) => item.jobId))];
      const rows = await this.ctx.db.query<JobWithEvents>(
        `WITH l AS MATERIALIZED (${lockIdsInOrder('$1::uuid[]', `"runAt" <= now() + interval '20 milliseconds'`, ', "type", "concurrencyKey", "concurrencyLimit"')}),
         ${KEY_ADMISSIONS},
         j AS (
           -- startedAt is read off the clock after the key's admission (k, which may wait on the
           -- key's lock), not at the statement's start: a job admitted when the one before it ended
           -- is stamped after that end, as it ran.
           UPDATE "Job" SET "status" = 'RUNNING', "attempt" = "attempt" + 1, "lockedBy" = $2, "heartbeatAt" = now(),
             "startedAt" = coalesce("startedAt", clock_timestamp()), "nextRetryAt" = NULL, "lastSeq" = "lastSeq" + 1, "waitingOn" = NULL
           FROM l WHERE "Job".id = l.id AND ${guard('claim', 'l."status"')} AND ${RUN_NOT_CANCELLED} AND ${KEY_ADMITTED}
           RETURNING "Job".*),
         ${oneEventEach('STATUS', '$3::text')}`,
        [ids, workerId, `running on ${workerId}`],
        'jobgraph.claim',
      );
      return rows.map(splitChange);
    }),
    OVERLAPPING,
  );

  readonly #completions = new Batcher<{ jobId: string; workerId: string; result: string }, Change | undefined>((items) =>
    perWorker(items, async (batch, workerId) => {
      const rows = await this.ctx.db.query<JobWithEvents>(
        `WITH l AS MATERIALIZED (${lockIdsInOrder('$1::uuid[]', '"lockedBy" = $3')}),
         c AS (SELECT c.*, l."status" FROM unnest($1::uuid[], $2::text[]) AS c(id, result) JOIN l ON l.id = c.id),
         j AS (
           UPDATE "Job" SET
             "status" = CASE WHEN "Job"."status" = 'CANCELLING' THEN 'CANCELLED'::"JobStatus" ELSE 'COMPLETED'::"JobStatus" END,
             "result" = CASE WHEN "Job"."status" = 'CANCELLING' THEN NULL ELSE c.result::jsonb END,
             "progress" = CASE WHEN "Job"."status" = 'CANCELLING' THEN "Job"."progress" ELSE 100 END,
             "finishedAt" = now(), "lockedBy" = NULL, "lastSeq" = "Job"."lastSeq" + 1
           FROM c WHERE "Job".id = c.id AND "Job"."lockedBy" = $3 AND ${guard('complete', 'c."status"')}
           RETURNING "Job".*),
         ${oneEventEach('STATUS', 'NULL')}`,
        [batch.map((item) => item.jobId), batch.map((item) => item.result), workerId],
        'jobgraph.complete',
      );
      return rows.map(splitChange);
    }),
    OVERLAPPING,
  );

  /** RUNNING → FAILED (or CANCELLED when it was being cancelled meanwhile). */
  async fail(jobId: string, workerId: string, error: { code: string; message: string }): Promise<Change | undefined> {
    const p = new Params();
    return this.#write(
      p,
      `"status" = CASE WHEN "status" = 'CANCELLING' THEN 'CANCELLED'::"JobStatus" ELSE 'FAILED'::"JobStatus" END,
       "errorCode" = ${p.add(error.code)}, "errorMessage" = ${p.add(error.message)}, "finishedAt" = now(), "lockedBy" = NULL`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND ${guard('fail')}`,
      [{ kind: 'STATUS', message: `${error.code}: ${error.message}` }],
      'fail',
    );
  }

  /** CANCELLING → CANCELLED: the handler saw its cancel signal and returned. */
  async acknowledgeCancel(jobId: string, workerId: string): Promise<Change | undefined> {
    const p = new Params();
    return this.#write(
      p,
      `"status" = 'CANCELLED', "finishedAt" = now(), "lockedBy" = NULL`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND ${guard('acknowledgeCancel')}`,
      [{ kind: 'STATUS', message: 'cancelled while running' }],
      'acknowledgeCancel',
    );
  }

  /**
   * A retryable failure: RUNNING → RETRYING, due in `delayMs`, leased for dispatch (the after-write
   * step sends it to a queue with that delay, or the sweep once it is due within the queue's reach).
   * Its ATTEMPT event carries the error and the delay.
   */
  async scheduleRetry(
    jobId: string,
    workerId: string,
    error: { code: string; message: string },
    delayMs: number,
  ): Promise<Change | undefined> {
    const p = new Params();
    const delay = p.add(delayMs);
    return this.#write(
      p,
      `"status" = 'RETRYING', "errorCode" = ${p.add(error.code)}, "errorMessage" = ${p.add(error.message)},
       "runAt" = now() + ${delay} * interval '1 millisecond', "nextRetryAt" = now() + ${delay} * interval '1 millisecond',
       "lockedBy" = NULL, "dispatchedAt" = now(), "queueRef" = NULL`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND ${guard('scheduleRetry')}`,
      [
        {
          kind: 'ATTEMPT',
          message: `attempt failed (${error.code}: ${error.message}); retrying in ${delayMs} ms`,
          data: { error, delayMs },
        },
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
    return this.#write(
      p,
      `"status" = CASE WHEN "status" = 'CANCELLING' THEN 'CANCELLED'::"JobStatus" ELSE 'QUEUED'::"JobStatus" END,
       "attempt" = CASE WHEN "status" = 'CANCELLING' THEN "attempt" ELSE "attempt" - 1 END,
       "finishedAt" = CASE WHEN "status" = 'CANCELLING' THEN now() END,
       "lockedBy" = NULL, "heartbeatAt" = NULL, "dispatchedAt" = NULL, "queueRef" = NULL, "runAt" = now()`,
      `id = ${p.add(jobId)} AND "lockedBy" = ${p.add(workerId)} AND ${guard('release')}`,
      [{ kind: 'STATUS', message: reason }],
    );
  }

  /**
   * Cancels a job: a waiting one ends CANCELLED at once; a running one goes CANCELLING until the
   * process holding it aborts it. Cancelling a job already cancelled (or being cancelled) returns
   * it unchanged; a completed or failed job cannot be cancelled.
   */
  async cancel(jobId: string, by: string | null): Promise<{ job: Job; change?: Change; queueRef: string | null }> {
    const before = await this.queries.requireJob(jobId);
    const p = new Params();
    const change = await this.#write(
      p,
      `"status" = CASE WHEN "status" = 'RUNNING' THEN 'CANCELLING'::"JobStatus" ELSE 'CANCELLED'::"JobStatus" END,
       "finishedAt" = CASE WHEN "status" = 'RUNNING' THEN NULL ELSE now() END,
       "nextRetryAt" = NULL, "dispatchedAt" = coalesce("dispatchedAt", now())`,
      `id = ${p.add(jobId)} AND ${guard('cancel')}`,
      [{ kind: 'STATUS', message: by ? `cancelled by ${by}` : 'cancelled' }],
    );
    if (change) return { job: change.job, change, queueRef: before.queueRef };
    const current = await this.queries.requireJob(jobId);
    if (current.status === 'CANCELLED' || current.status === 'CANCELLING') return { job: current, queueRef: null };
    throw new IllegalTransitionError(jobId, current.status, 'CANCELLED');
  }

  /** FAILED or CANCELLED → QUEUED as a new attempt with a fresh retry budget, from scratch (no checkpoint); leased for dispatch. */
  async retry(jobId: string, budget: number, by: string | null): Promise<Change> {
    const p = new Params();
    const change = await this.#write(
      p,
      `"status" = 'QUEUED', "maxAttempts" = "attempt" + ${p.add(budget)}, "progress" = 0, "message" = NULL,
       "result" = NULL, "errorCode" = NULL, "errorMessage" = NULL, "finishedAt" = NULL, "nextRetryAt" = NULL,
       "runAt" = now(), "dispatchedAt" = now(), "queueRef" = NULL, "checkpoint" = NULL`,
      `id = ${p.add(jobId)} AND ${guard('retry')}`,
      [{ kind: 'STATUS', message: by ? `retried by ${by}` : 'retried' }],
    );
    if (change) return change;
    const current = await this.queries.requireJob(jobId);
    throw new IllegalTransitionError(jobId, current.status, 'QUEUED');
  }

  async #write(p: Params, set: string, where: string, events: EventSpec[], name?: string): Promise<Change | undefined> {
    return this.ctx.after(await updateJob(this.ctx.db, p, set, where, events, name));
  }
}

/**
 * Runs `write` once per worker id among `items` and answers each item with the change of its
 * job: the first item of a job gets it, a repeated one (a duplicate delivery) gets nothing.
 */
async function perWorker<T extends { jobId: string; workerId: string }>(
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
