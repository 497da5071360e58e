/**
 * Workflow runs in the ledger: a run row, its steps, its history. Every write is one conditional
 * statement that takes its WHERE from the run and step state tables (runs/states.ts), bumps the
 * run's seq and appends the event that says what moved, so concurrent advancers in several
 * processes can only agree or do nothing. A step's job is created in the same statement that
 * releases the step, guarded by the run being live: a job is never made twice for one step, and
 * never after its run was cancelled.
 */
import type { Job, RunEvent, RunStep, WorkflowRun } from '../../generated/prisma/client.ts';
import type { RunStatus, StepKind, StepStatus } from '../../generated/prisma/enums.ts';
import { timeOrderedUuid } from '../../lib/uuid.ts';
import { inStatuses, LIVE_RUN_STATUSES, runSources, stepSources, type RunTransition, type StepTransition } from '../runs/states.ts';
import { TERMINAL_STATUSES } from '../states.ts';
import { isUuid, JOB_EVENT_COLUMNS, Params, splitChange, type Change, type JobWithEvents, type LedgerContext } from './sql.ts';
import type { NewJob } from './transitions.ts';

export type { RunEvent, RunStep, WorkflowRun };

/** What a step's current job says of it, when it has one. */
export type StepJob = Pick<Job, 'id' | 'status' | 'progress' | 'message' | 'attempt' | 'maxAttempts' | 'result' | 'errorCode' | 'errorMessage'>;

export interface StepView extends RunStep {
  job: StepJob | null;
}

export interface RunView {
  run: WorkflowRun;
  steps: StepView[];
}

export interface NewRun {
  workflow: string;
  input: unknown;
  idempotencyKey?: string | null;
  createdBy?: string | null;
  steps: { name: string; kind: StepKind; task: string | null; parents: readonly string[] }[];
}

export interface RunListFilter {
  first: number;
  status?: RunStatus[];
  workflow?: string;
  createdBy?: string;
  /** Older than this run (its createdAt and id): the next page. */
  after?: { createdAt: Date; id: string };
}

export interface RunSummary {
  runs: { workflow: string; status: RunStatus; count: number }[];
  openGates: number;
  /** How long the oldest open gate has waited; null when none is open. */
  oldestOpenGateSeconds: number | null;
}

/** A move of one step: the transition, what else it sets, and what its event says. */
export interface StepMove {
  runId: string;
  step: string;
  transition: StepTransition;
  /** The status it moves to (one the transition allows from where it starts). */
  to: StepStatus;
  /** Further assignments, SQL built on `p`. */
  set?: (p: Params) => string;
  /** Further conditions on the step (a generation, a job id). */
  where?: (p: Params) => string;
  message?: string | null;
  actor?: string | null;
  /** Only while the run is in one of these (default: any). */
  runIn?: readonly RunStatus[];
}

/**
 * The run's row, locked (and, with `statuses`, only while it is in one of them, checked once the
 * lock is ours): every write of a run takes it first, so moves of one run queue on it and a step
 * cannot be released after the run was cancelled. Use as the first CTE, named `lock`.
 */
function lockRun(runId: string, statuses?: readonly RunStatus[]): string {
  return `lock AS MATERIALIZED (SELECT id FROM "WorkflowRun" WHERE id = ${runId}::uuid${statuses ? ` AND ${inStatuses(statuses)}` : ''} FOR UPDATE)`;
}

/**
 * The run's seq, bumped once for the step a write moved (CTE s): no step moved, no seq taken, so a
 * run's events number 1, 2, 3… without a gap whatever races with it.
 */
const bumpSeq = `r AS (
  UPDATE "WorkflowRun" SET "lastSeq" = "lastSeq" + 1, "updatedAt" = now() FROM s WHERE "WorkflowRun".id = s."runId"
  RETURNING "WorkflowRun".id, "WorkflowRun"."lastSeq")`;

const TERMINAL_JOB = inStatuses(TERMINAL_STATUSES, 'j."status"');
const LIVE_RUN = inStatuses(LIVE_RUN_STATUSES, 'r."status"');

export class RunLedger {
  private readonly ctx: LedgerContext;
  constructor(ctx: LedgerContext) {
    this.ctx = ctx;
  }

  /**
   * Records a run, its steps (PENDING) and its first event in one statement. With an idempotency
   * key already used for this workflow, returns that run instead (`deduplicated`).
   */
  async createRun(run: NewRun): Promise<{ run: WorkflowRun; deduplicated: boolean }> {
    const [created] = await this.ctx.db.query<WorkflowRun>(
      `WITH r AS (
         INSERT INTO "WorkflowRun" ("id", "workflow", "input", "idempotencyKey", "createdBy", "lastSeq")
         VALUES ($1, $2, $3::jsonb, $4, $5, 1) ON CONFLICT DO NOTHING RETURNING *),
       s AS (
         INSERT INTO "RunStep" ("runId", "position", "name", "kind", "task", "parents")
         SELECT r.id, s.position, s.name, s.kind::"StepKind", s.task, ARRAY(SELECT jsonb_array_elements_text(s.parents))
         FROM r, unnest($6::text[], $7::text[], $8::text[], $9::jsonb[]) WITH ORDINALITY AS s(name, kind, task, parents, position)),
       e AS (INSERT INTO "RunEvent" ("runId", "seq", "status", "message", "actor") SELECT r.id, 1, 'RUNNING', 'started', $5 FROM r)
       SELECT * FROM r`,
      [
        timeOrderedUuid(),
        run.workflow,
        JSON.stringify(run.input ?? null),
        run.idempotencyKey ?? null,
        run.createdBy ?? null,
        run.steps.map((step) => step.name),
        run.steps.map((step) => step.kind),
        run.steps.map((step) => step.task),
        run.steps.map((step) => JSON.stringify(step.parents)),
      ],
      'jobgraph.createRun',
    );
    if (created) return { run: created, deduplicated: false };
    const [existing] = await this.ctx.db.query<WorkflowRun>(
      `SELECT * FROM "WorkflowRun" WHERE "workflow" = $1 AND "idempotencyKey" = $2`,
      [run.workflow, run.idempotencyKey],
    );
    if (!existing) throw new Error('run idempotency conflict without an existing run'); // cannot happen: unique index
    return { run: existing, deduplicated: true };
  }

  async getRun(runId: string): Promise<WorkflowRun | undefined> {
    if (!isUuid(runId)) return undefined;
    return (await this.ctx.db.query<WorkflowRun>(`SELECT * FROM "WorkflowRun" WHERE id = $1`, [runId]))[0];
  }

  /** The run with its steps (in definition order), each with what its current job says. */
  async read(runId: string): Promise<RunView | undefined> {
    const run = await this.getRun(runId);
    if (!run) return undefined;
    const steps = await this.ctx.db.query<StepView>(
      `SELECT s.*, CASE WHEN j.id IS NULL THEN NULL ELSE json_build_object(
           'id', j.id, 'status', j."status", 'progress', j."progress", 'message', j."message", 'attempt', j."attempt",
           'maxAttempts', j."maxAttempts", 'result', j."result", 'errorCode', j."errorCode", 'errorMessage', j."errorMessage") END AS job
       FROM "RunStep" s LEFT JOIN "Job" j ON j.id = s."jobId" WHERE s."runId" = $1 ORDER BY s."position"`,
      [runId],
      'jobgraph.readRun',
    );
    return { run, steps };
  }

  async list(filter: RunListFilter): Promise<{ runs: WorkflowRun[]; hasNextPage: boolean }> {
    const p = new Params();
    const where: string[] = [];
    if (filter.status?.length) where.push(`"status" = ANY(${p.add(filter.status)}::"RunStatus"[])`);
    if (filter.workflow) where.push(`"workflow" = ${p.add(filter.workflow)}`);
    if (filter.createdBy) where.push(`"createdBy" = ${p.add(filter.createdBy)}`);
    if (filter.after) where.push(`("createdAt", id) < (${p.add(filter.after.createdAt)}, ${p.add(filter.after.id)}::uuid)`);
    const rows = await this.ctx.db.query<WorkflowRun>(
      `SELECT * FROM "WorkflowRun" ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY "createdAt" DESC, id DESC LIMIT ${p.add(filter.first + 1)}`,
      p.values,
    );
    return { runs: rows.slice(0, filter.first), hasNextPage: rows.length > filter.first };
  }

  async events(runId: string, afterSeq = 0): Promise<RunEvent[]> {
    if (!isUuid(runId)) return [];
    return this.ctx.db.query<RunEvent>(`SELECT * FROM "RunEvent" WHERE "runId" = $1 AND seq > $2 ORDER BY seq`, [runId, afterSeq]);
  }

  /** Every job a run made, every generation of every step, oldest first. */
  async jobsOf(runId: string): Promise<Job[]> {
    if (!isUuid(runId)) return [];
    return this.ctx.db.query<Job>(`SELECT * FROM "Job" WHERE "runId" = $1 ORDER BY "createdAt", id`, [runId]);
  }

  /**
   * Moves one step along `move.transition`, bumping the run's seq and appending the event, in one
   * statement; undefined when the step was not where the transition starts (someone else moved it)
   * or the run was not in `runIn`.
   */
  async moveStep(move: StepMove): Promise<RunStep | undefined> {
    const p = new Params();
    const stepWhere = this.#stepWhere(p, move);
    const to = p.add(move.to);
    const [step] = await this.ctx.db.query<RunStep>(
      `WITH ${lockRun(p.add(move.runId), move.runIn)},
       s AS (
         UPDATE "RunStep" SET "status" = ${to}::"StepStatus"${move.set ? `, ${move.set(p)}` : ''}
         FROM lock WHERE ${stepWhere} RETURNING "RunStep".*),
       ${bumpSeq},
       e AS (
         INSERT INTO "RunEvent" ("runId", "seq", "step", "status", "message", "actor")
         SELECT s."runId", r."lastSeq", s.name, s."status"::text, ${p.add(move.message ?? null)}::text, ${p.add(move.actor ?? null)}::text FROM s, r)
       SELECT * FROM s`,
      p.values, // unnamed: its text varies with the move, and a named statement must not
    );
    return step;
  }

  /**
   * Releases a task step: PENDING → ACTIVE and its job created, in one statement, only while the
   * run is live and the step still at `generation`. The job then goes through the after-write step
   * (published, dispatched) like any other; undefined when the step was released already or the
   * run is no longer live.
   */
  async releaseStep(runId: string, step: string, generation: number, job: NewJob): Promise<Change | undefined> {
    const p = new Params();
    const move: StepMove = { runId, step, transition: 'release', to: 'ACTIVE', where: (q) => `"generation" = ${q.add(generation)}` };
    const stepWhere = this.#stepWhere(p, move);
    const id = p.add(timeOrderedUuid());
    const [row] = await this.ctx.db.query<JobWithEvents>(
      `WITH ${lockRun(p.add(runId), LIVE_RUN_STATUSES)},
       s AS (
         UPDATE "RunStep" SET "status" = 'ACTIVE', "jobId" = ${id}::uuid, "startedAt" = now(), "finishedAt" = NULL
         FROM lock WHERE ${stepWhere} RETURNING "RunStep".*),
       ${bumpSeq},
       re AS (
         INSERT INTO "RunEvent" ("runId", "seq", "step", "status", "message")
         SELECT s."runId", r."lastSeq", s.name, 'ACTIVE', 'started as job ' || ${id}::text FROM s, r),
       j AS (
         INSERT INTO "Job" ("id", "type", "phase", "status", "input", "maxAttempts", "backend", "priority", "runAt",
                            "createdBy", "dispatchedAt", "lastSeq", "runId", "step", "concurrencyKey", "concurrencyLimit", "fairGroup",
                            "tags", "traceparent")
         SELECT ${id}::uuid, ${p.add(job.type)}, ${p.add(job.phase)}::"Phase", 'QUEUED', ${p.json(job.input)}, ${p.add(job.maxAttempts)},
                ${p.add(job.backend)}, ${p.add(job.priority ?? 0)}, now(), ${p.add(job.createdBy ?? null)}, now(), 1, s."runId", s.name,
                ${p.add(job.concurrencyKey ?? null)}, ${p.add(job.concurrencyLimit ?? null)}::int, ${p.add(job.fairGroup ?? null)},
                ${p.add(job.tags ?? [])}::text[], ${p.add(job.traceparent ?? null)}::text
         FROM s RETURNING *),
       e AS (
         INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS})
         SELECT j.id, 1, 'STATUS'::"JobEventKind", 'QUEUED'::"JobStatus", 0, ${p.add(`queued: step ${step} of run ${runId}`)}::text, NULL FROM j
         RETURNING *)
       SELECT j.*, (SELECT json_agg(e ORDER BY e.seq) FROM e) AS "__events" FROM j`,
      p.values,
      'jobgraph.step.release',
    );
    return this.ctx.after(row && splitChange(row));
  }

  /**
   * Moves the run along `transition`, with its event; undefined when it was not where the
   * transition starts, or (with `expectSeq`) anything moved since the caller read it.
   */
  async moveRun(opts: {
    runId: string;
    transition: RunTransition;
    to: RunStatus;
    message?: string | null;
    actor?: string | null;
    reason?: string | null;
    expectSeq?: number;
  }): Promise<WorkflowRun | undefined> {
    const p = new Params();
    const ends = opts.to === 'COMPLETED' || opts.to === 'FAILED' || opts.to === 'CANCELLED';
    const [run] = await this.ctx.db.query<WorkflowRun>(
      `WITH r AS (
         UPDATE "WorkflowRun" SET "status" = ${p.add(opts.to)}::"RunStatus", "lastSeq" = "lastSeq" + 1, "updatedAt" = now(),
           "finishedAt" = ${ends ? 'now()' : 'NULL'}, "reason" = ${ends ? `${p.add(opts.reason ?? null)}::text` : 'NULL'}
         WHERE id = ${p.add(opts.runId)}::uuid AND ${inStatuses(runSources(opts.transition))}
           ${opts.expectSeq === undefined ? '' : `AND "lastSeq" = ${p.add(opts.expectSeq)}`}
         RETURNING *),
       e AS (
         INSERT INTO "RunEvent" ("runId", "seq", "status", "message", "actor")
         SELECT r.id, r."lastSeq", r."status"::text, ${p.add(opts.message ?? null)}::text, ${p.add(opts.actor ?? null)}::text FROM r)
       SELECT * FROM r`,
      p.values,
    );
    return run;
  }

  /**
   * Sets `steps` back to PENDING as a new generation (no job, result or decision), and the run to
   * RUNNING along `transition`, in one statement; undefined when the run was not where the
   * transition starts. A step whose job is still running is left as it is (the caller refuses).
   */
  async resetSteps(opts: {
    runId: string;
    steps: readonly string[];
    transition: 'retry' | 'rerun';
    actor: string | null;
    message: string;
  }): Promise<WorkflowRun | undefined> {
    const p = new Params();
    const runId = p.add(opts.runId);
    const names = p.add(opts.steps);
    const resettable = inStatuses(stepSources('reset'), '"RunStep"."status"');
    const [run] = await this.ctx.db.query<WorkflowRun>(
      `WITH ${lockRun(runId, runSources(opts.transition))},
       s AS (
         UPDATE "RunStep" SET "status" = 'PENDING', "generation" = "generation" + 1, "jobId" = NULL, "result" = NULL, "error" = NULL,
           "startedAt" = NULL, "finishedAt" = NULL, "dueAt" = NULL, "decidedBy" = NULL, "decidedAt" = NULL, "comment" = NULL
         FROM lock WHERE "RunStep"."runId" = lock.id AND name = ANY(${names}::text[]) AND ${resettable}
         RETURNING "RunStep".name),
       r AS (
         UPDATE "WorkflowRun" SET "status" = 'RUNNING', "updatedAt" = now(), "finishedAt" = NULL, "reason" = NULL,
           "lastSeq" = "lastSeq" + 1 + (SELECT count(*) FROM s)
         FROM lock WHERE "WorkflowRun".id = lock.id
         RETURNING "WorkflowRun".*),
       -- Seqs old + 1 … new: one per step set back, in name order, then the run's own.
       x AS (
         SELECT name, 'PENDING' AS status, 'to run again' AS message, row_number() OVER (ORDER BY name) AS k FROM s
         UNION ALL SELECT NULL, 'RUNNING', ${p.add(opts.message)}::text, (SELECT count(*) + 1 FROM s)),
       e AS (
         INSERT INTO "RunEvent" ("runId", "seq", "step", "status", "message", "actor")
         SELECT r.id, r."lastSeq" - (SELECT count(*) + 1 FROM s) + x.k, x.name, x.status, x.message, ${p.add(opts.actor)}::text FROM r, x)
       SELECT * FROM r`,
      p.values,
      `jobgraph.run.${opts.transition}`,
    );
    return run;
  }

  /**
   * The runs the sweep must advance (the run invariant): live runs quiet for `quietMs` with nothing
   * live, a gate past due, or a PENDING step whose parents are all done; runs of any status with a
   * step whose job ended (a sibling finishing after its run failed); and cancelled runs with a step
   * whose job was not cancelled yet (the cancel of it failed).
   */
  async dueForAdvance(limit: number, quietMs: number): Promise<string[]> {
    const rows = await this.ctx.db.query<{ id: string }>(
      `SELECT r.id FROM "WorkflowRun" r
       WHERE ${LIVE_RUN} AND r."updatedAt" < now() - $1 * interval '1 millisecond'
         AND (NOT EXISTS (SELECT 1 FROM "RunStep" s WHERE s."runId" = r.id AND s."status" IN ('ACTIVE', 'WAITING'))
           OR EXISTS (SELECT 1 FROM "RunStep" s WHERE s."runId" = r.id AND s."status" = 'WAITING' AND s."dueAt" <= now())
           OR EXISTS (SELECT 1 FROM "RunStep" s WHERE s."runId" = r.id AND s."status" = 'PENDING'
                        AND NOT EXISTS (SELECT 1 FROM "RunStep" q WHERE q."runId" = r.id AND q.name = ANY(s.parents) AND q."status" <> 'COMPLETED')))
       UNION
       SELECT s."runId" FROM "RunStep" s LEFT JOIN "Job" j ON j.id = s."jobId" JOIN "WorkflowRun" r ON r.id = s."runId"
       WHERE s."status" = 'ACTIVE'
         AND (j.id IS NULL OR ${TERMINAL_JOB} OR (r."status" = 'CANCELLED' AND ${inStatuses(['QUEUED', 'RUNNING', 'RETRYING'], 'j."status"')}))
       LIMIT $2`,
      [quietMs, limit],
      'jobgraph.runsDue',
    );
    return rows.map((row) => row.id);
  }

  /** Runs per workflow and status, and the open gates with how long the oldest has waited (for /metrics). */
  async summary(): Promise<RunSummary> {
    const [counts, gates] = await Promise.all([
      this.ctx.db.query<{ workflow: string; status: RunStatus; count: number }>(
        `SELECT "workflow", "status", count(*)::int AS count FROM "WorkflowRun" GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
      this.ctx.db.query<{ open: number; oldest: number | null }>(
        `SELECT count(*)::int AS open, extract(epoch FROM now() - min("startedAt"))::float8 AS oldest FROM "RunStep" WHERE "status" = 'WAITING'`,
      ),
    ]);
    return { runs: counts, openGates: gates[0]?.open ?? 0, oldestOpenGateSeconds: gates[0]?.oldest ?? null };
  }

  #stepWhere(p: Params, move: StepMove): string {
    const extra = move.where ? ` AND ${move.where(p)}` : '';
    const from = inStatuses(stepSources(move.transition), '"RunStep"."status"');
    return `"RunStep"."runId" = ${p.add(move.runId)}::uuid AND "RunStep".name = ${p.add(move.step)} AND ${from}${extra}`;
  }
}
