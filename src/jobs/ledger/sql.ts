/**
 * The pieces every ledger statement is built from: parameters, status guards from the state
 * table, row locking in id order, and the "jobs with their events" shape a write returns.
 */
import type { Job, JobEvent } from '../../generated/prisma/client.ts';
import type { JobEventKind, JobStatus } from '../../generated/prisma/enums.ts';
import type { LedgerDb } from '../../db/client.ts';
import { HELD_STATUSES, sourcesOf, WAITING_STATUSES, type TransitionName } from '../states.ts';

/** What one statement changed: the job as it now is, and the events it appended, in seq order. */
export interface Change {
  job: Job;
  events: JobEvent[];
}

/** What must follow a write: publishing its events, and dispatching a job it left waiting. */
export type AfterWrite = (change: Change) => Promise<void>;

/** The database and the after-write step, shared by the ledger's parts. */
export interface LedgerContext {
  db: LedgerDb;
  /** Runs the after-write step for a change (if any) and hands it back. */
  after(change: Change | undefined): Promise<Change | undefined>;
}

export interface EventSpec {
  kind: JobEventKind;
  /** Defaults to the job's new status. */
  status?: JobStatus;
  message?: string | null;
  data?: unknown;
}

/** Collects positional parameters while a statement is built. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  json(value: unknown): string {
    return `${this.add(value === undefined ? null : JSON.stringify(value))}::jsonb`;
  }
}

/** `"status" IN (…)` for a list of statuses (constants of the state table, never user input). */
export function statusIn(statuses: readonly JobStatus[], column = '"status"'): string {
  return `${column} IN (${statuses.map((status) => `'${status}'`).join(', ')})`;
}

/**
 * The waiting jobs, written so the planner may read Job_waiting_idx: its predicate ends in
 * `"runAt" IS NOT NULL`, which only statements that scan waiting jobs state (the sweep, a backend
 * going down, the counts, a live filter). A statement that finds its job by id never says it, so it
 * always reads the key, whatever the statistics say about the index (see lockIdsInOrder).
 */
export const WAITING_SCAN = `${statusIn(WAITING_STATUSES)} AND "runAt" IS NOT NULL`;
/**
 * The same for the held jobs and Job_held_idx (the reaper, the counts), whose predicate ends in
 * `"lockedBy" IS NOT NULL`: a statement by id that names its worker (`"lockedBy" = $n`) may read
 * this index, but then only that worker's own running jobs, as many as its concurrency at most.
 */
export const HELD_SCAN = `${statusIn(HELD_STATUSES)} AND "lockedBy" IS NOT NULL`;

/** The WHERE on status of `transition`: the statuses the state table lets it start from. */
export function guard(transition: TransitionName, column = '"status"'): string {
  return statusIn(sourcesOf(transition), column);
}

/** Independent batched writes (rows of different jobs) may overlap: a few in flight keep latency low. */
export const OVERLAPPING = { inFlight: 4 };

export const JOB_EVENT_COLUMNS = `"jobId", "seq", "kind", "status", "progress", "message", "data"`;

/** The end of a batched write: the jobs it changed (CTE j), each with the events it appended (CTE e). */
export const JOBS_WITH_EVENTS = `SELECT j.*, ev.events AS "__events"
  FROM j LEFT JOIN (SELECT "jobId", json_agg(e ORDER BY e.seq) AS events FROM e GROUP BY "jobId") ev ON ev."jobId" = j.id`;

/**
 * The end of a batched write that appends one event per job it changed (CTE j): the event (its
 * kind, the job's new status and progress, `message` as SQL), then the jobs with their events.
 */
export function oneEventEach(kind: JobEventKind, message: string): string {
  return `e AS (
     INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS})
     SELECT j.id, j."lastSeq", '${kind}'::"JobEventKind", j."status", j."progress", ${message}, NULL FROM j
     RETURNING *)
   ${JOBS_WITH_EVENTS}`;
}

/**
 * The ids of the jobs matching `where`, locked in id order. Batched writes from several processes
 * (claims, completions, confirmations, heartbeats) then queue behind each other instead of
 * deadlocking. Sorting the ids given to `UPDATE … FROM unnest(…)` is not enough: the join picks
 * the order in which an UPDATE takes its rows. Use as `l AS MATERIALIZED (…)`.
 */
export function lockInOrder(where: string): string {
  return `SELECT id FROM "Job" WHERE ${where} ORDER BY id FOR UPDATE`;
}

/**
 * The jobs with the ids in `ids` (and `also`, on columns no partial index is keyed by), locked in
 * id order, with their status as of the lock: the statement's guard is `guard(…, 'l."status"')`,
 * never on "Job"."status". A status in this WHERE or in the UPDATE's lets the planner read a
 * partial index of live jobs instead of the key, and its statistics, gathered while few jobs
 * waited, call that index nearly empty: measured on a ledger with history, each claim of a batch
 * then scanned the whole backlog (5,000 waiting jobs: 2 ms a claim, and confirmations of 1.2 s
 * behind them). Locked, a row's status cannot change before the UPDATE, so guarding on it is the same.
 */
export function lockIdsInOrder(ids: string, also?: string, columns = ''): string {
  return `SELECT id, "status", "runId"${columns} FROM "Job" WHERE id = ANY(${ids})${also ? ` AND ${also}` : ''} ORDER BY id FOR UPDATE`;
}

/**
 * For a claim of the jobs locked as `l` (with "type", "concurrencyKey", "concurrencyLimit"): `k`,
 * the one job per busy-or-free concurrency key this statement may start, and whether its key has
 * room (jobgraph_key_admits: an advisory lock per key, taken in key order so claims cannot
 * deadlock on them, then a count of the key's running jobs). A second job of a key in the same
 * statement waits its turn like any other.
 */
export const KEY_ADMISSIONS = `k AS MATERIALIZED (
           SELECT d.id, jobgraph_key_admits(d."type", d."concurrencyKey", d."concurrencyLimit") AS admits
           FROM (SELECT DISTINCT ON (l."type", l."concurrencyKey") l.id, l."type", l."concurrencyKey", l."concurrencyLimit"
                 FROM l WHERE l."concurrencyKey" IS NOT NULL AND ${statusIn(WAITING_STATUSES, 'l."status"')}
                 ORDER BY l."type", l."concurrencyKey", l.id) d
           ORDER BY d."type", d."concurrencyKey")`;

/** For a claim: the job (locked as `l`) has no concurrency key, or `k` admits it. */
export const KEY_ADMITTED = `(l."concurrencyKey" IS NULL OR EXISTS (SELECT 1 FROM k WHERE k.id = l.id AND k.admits))`;

/**
 * For a claim: the job (locked as `l`) is not a step of a cancelled run. A run is cancelled in its
 * own statement and its waiting jobs afterwards; no claim may start one in between.
 */
export const RUN_NOT_CANCELLED = `(l."runId" IS NULL OR NOT EXISTS (SELECT 1 FROM "WorkflowRun" r WHERE r.id = l."runId" AND r."status" = 'CANCELLED'))`;

/**
 * For an insert of jobs `i` (with "fairGroup" and their order n): `r`, each job's place in its
 * group's line. A group's next job goes after its waiting ones; a group with none waiting starts
 * at 0, so its first job is not behind another group's backlog (queues order by priority, then this).
 */
export const FAIR_RANKS = `g AS (
           SELECT grp.g, coalesce((SELECT max(x."fairRank") + 1 FROM "Job" x
                                    WHERE x."fairGroup" = grp.g AND ${statusIn(WAITING_STATUSES, 'x."status"')}), 0) AS base
           FROM (SELECT DISTINCT i."fairGroup" AS g FROM i WHERE i."fairGroup" IS NOT NULL) grp),
         r AS (
           SELECT i.id, (coalesce(g.base, 0) + row_number() OVER (PARTITION BY i."fairGroup" ORDER BY i.n) - 1)::int AS rank
           FROM i LEFT JOIN g ON g.g = i."fairGroup")`;

/** An event as json_agg renders it: timestamps are strings. */
type RawEvent = Omit<JobEvent, 'at'> & { at: string };
export type JobWithEvents = Job & { __events: RawEvent[] | null };

export function splitChange(row: JobWithEvents): Change {
  const { __events, ...job } = row;
  return { job, events: (__events ?? []).map((event) => ({ ...event, at: new Date(event.at) })) };
}

/**
 * One job's change in one statement: the UPDATE (`set` where `where`) and its `events`, with
 * consecutive seqs. Undefined when the WHERE matched nothing: a duplicate, a late worker or a
 * lost race, told apart from a real change on every backend alike.
 */
export async function updateJob(
  db: LedgerDb,
  p: Params,
  set: string,
  where: string,
  events: EventSpec[],
  name?: string,
): Promise<Change | undefined> {
  const n = events.length;
  const selects = events.map((event, i) => {
    const status = event.status ? `${p.add(event.status)}::"JobStatus"` : 'j."status"';
    const message = event.message === undefined ? 'NULL' : `${p.add(event.message)}::text`;
    return `SELECT j.id, j."lastSeq" - ${n - 1 - i}, '${event.kind}'::"JobEventKind", ${status}, j."progress", ${message}, ${p.json(event.data)} FROM j`;
  });
  const rows = await db.query<JobWithEvents>(
    `WITH j AS (UPDATE "Job" SET ${set}, "lastSeq" = "lastSeq" + ${n} WHERE ${where} RETURNING *),
     e AS (INSERT INTO "JobEvent" (${JOB_EVENT_COLUMNS}) ${selects.join(' UNION ALL ')} RETURNING *)
     SELECT j.*, (SELECT json_agg(e ORDER BY e.seq) FROM e) AS "__events" FROM j`,
    p.values,
    name && `jobgraph.${name}`,
  );
  return rows[0] && splitChange(rows[0]);
}

export function clampPercent(percent: number): number {
  if (!Number.isFinite(percent)) return 0;
  return Math.min(100, Math.max(0, percent));
}

export { isUuid } from '../../lib/uuid.ts';
