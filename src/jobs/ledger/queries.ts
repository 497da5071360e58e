/** Reads of the ledger: jobs, their events, counts and the workers seen. Nothing here writes a job. */
import type { Job, JobEvent } from '../../generated/prisma/client.ts';
import type { JobStatus, Phase } from '../../generated/prisma/enums.ts';
import type { LedgerDb } from '../../db/client.ts';
import { JobNotFoundError } from '../errors.ts';
import { ACTIVE_STATUSES, HELD_STATUSES, WAITING_STATUSES } from '../states.ts';
import { HELD_SCAN, isUuid, Params, statusIn, WAITING_SCAN } from './sql.ts';

/**
 * Which jobs a search or a bulk action means; every field given narrows (AND). What a filter may
 * hold, and when it is too broad for a bulk action, is written in ../job-filter.ts.
 */
export interface JobFilter {
  /** Only these jobs. */
  ids?: readonly string[];
  status?: readonly JobStatus[];
  type?: string;
  phase?: Phase;
  /** Whose jobs (the API sets it to the caller unless they are an admin). */
  createdBy?: string;
  /** Jobs that carry every one of these tags (`"tags" @> $n`, read from Job_tags_idx). */
  tags?: readonly string[];
  /** Jobs whose input contains this JSON (`"input" @> $n`: {"reportId": "r1"} finds every job of that report; read from Job_input_idx). */
  input?: Record<string, unknown>;
  /** Created at or after this instant. */
  createdAfter?: Date;
  /** Created before this instant. */
  createdBefore?: Date;
}

export interface JobListFilter extends JobFilter {
  first: number;
  after?: { createdAt: Date; id: string };
}

export interface ThroughputRow {
  /** The minute. */
  start: Date;
  status: JobStatus;
  /** Jobs that ended in it with this status. */
  ended: number;
  /** Their run time, summed. */
  durationMs: number;
}

export interface WorkerRow {
  id: string;
  hostname: string;
  pid: number;
  backend: string;
  concurrency: number;
  /** Jobs it holds now (RUNNING or CANCELLING). */
  running: number;
  heartbeatAt: Date;
  startedAt: Date;
}

export class LedgerQueries {
  private readonly db: LedgerDb;
  constructor(db: LedgerDb) {
    this.db = db;
  }

  /**
   * This ledger's identity, made the first time it is asked for. Queue names and bus channels
   * carry it, so two deployments with ledgers of their own never take each other's deliveries.
   */
  async identity(): Promise<string> {
    // Two processes opening a new ledger at once: the one whose insert waited on the other's sees
    // no row made and, in the statement's snapshot (taken before the other committed), none there
    // either. Asked again, a new snapshot holds the other's row.
    for (let attempt = 1; ; attempt++) {
      const [row] = await this.db.query<{ id: string }>(
        `WITH made AS (
           INSERT INTO "LedgerIdentity" ("singleton", "id") VALUES (1, gen_random_uuid()) ON CONFLICT ("singleton") DO NOTHING RETURNING "id")
         SELECT "id" FROM made UNION ALL SELECT "id" FROM "LedgerIdentity" WHERE "singleton" = 1`,
      );
      if (row) return row.id;
      if (attempt === 3) throw new Error('the ledger has no identity row, three times after inserting it');
    }
  }

  async getJob(id: string): Promise<Job | undefined> {
    if (!isUuid(id)) return undefined;
    return (await this.db.query<Job>(`SELECT * FROM "Job" WHERE id = $1`, [id]))[0];
  }

  async requireJob(id: string): Promise<Job> {
    const job = await this.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  /** The job with this task and idempotency key, if any. */
  async byIdempotencyKey(type: string, key: string): Promise<Job | undefined> {
    return (await this.db.query<Job>(`SELECT * FROM "Job" WHERE "type" = $1 AND "idempotencyKey" = $2`, [type, key]))[0];
  }

  /** The live job holding a singleton key (concurrency policy 'drop'), if any. */
  async liveBySingletonKey(type: string, key: string): Promise<Job | undefined> {
    return (
      await this.db.query<Job>(`SELECT * FROM "Job" WHERE "type" = $1 AND "singletonKey" = $2 AND ${statusIn(ACTIVE_STATUSES)}`, [type, key])
    )[0];
  }

  /** The live jobs of a concurrency key, newest first. */
  async liveByConcurrencyKey(type: string, key: string): Promise<Job[]> {
    return this.db.query<Job>(
      `SELECT * FROM "Job" WHERE "type" = $1 AND "concurrencyKey" = $2 AND ${statusIn(ACTIVE_STATUSES)} ORDER BY "createdAt" DESC, id DESC`,
      [type, key],
    );
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
    const where = filterWhere(filter, p);
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
   * A bulk action's batch: the ids of at most `limit` jobs matching `filter` whose status is one
   * of `statuses` (those the action starts from; the filter's own statuses narrow them further),
   * newest first, and whether more match beyond them.
   */
  async matchingIds(filter: JobFilter, statuses: readonly JobStatus[], limit: number): Promise<{ ids: string[]; hasMore: boolean }> {
    const applicable = filter.status?.length ? statuses.filter((status) => filter.status!.includes(status)) : statuses;
    if (applicable.length === 0) return { ids: [], hasMore: false };
    const p = new Params();
    const where = filterWhere({ ...filter, status: applicable }, p);
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM "Job" WHERE ${where.join(' AND ')} ORDER BY "createdAt" DESC, id DESC LIMIT ${p.add(limit + 1)}`,
      p.values,
    );
    return { ids: rows.slice(0, limit).map((row) => row.id), hasMore: rows.length > limit };
  }

  /**
   * How many jobs there are per status and task: the waiting and running ones counted in the
   * ledger (each half by its partial index, so the cost follows live jobs), the finished ones read from
   * their tallies (which count pruned jobs too), never a scan of history.
   */
  counts(): Promise<{ status: JobStatus; type: string; count: number }[]> {
    return this.db.query(
      `SELECT "status", "type", count(*)::int AS count FROM "Job" WHERE ${WAITING_SCAN} GROUP BY "status", "type"
       UNION ALL
       SELECT "status", "type", count(*)::int AS count FROM "Job" WHERE ${HELD_SCAN} GROUP BY "status", "type"
       UNION ALL
       SELECT "status", "type", sum("count")::int FROM "JobTally" GROUP BY "status", "type" HAVING sum("count") <> 0
       ORDER BY 2, 1`,
    );
  }

  /** Jobs that ended per minute and status over the last `minutes` minutes (this one included), oldest first. */
  throughput(minutes: number): Promise<ThroughputRow[]> {
    return this.db.query<ThroughputRow>(
      `SELECT "bucket" AS "start", "status", sum("ended")::int AS "ended", sum("durationMs")::float8 AS "durationMs"
       FROM "JobTally"
       WHERE "shard" >= 0 AND "bucket" > date_trunc('minute', now()) - $1::int * interval '1 minute'
       GROUP BY "bucket", "status" HAVING sum("ended") > 0 ORDER BY "bucket", "status"`,
      [minutes],
    );
  }

  /**
   * Per task, how long its oldest waiting job has been due (now minus its `runAt`, in the
   * database's clock): jobs delayed, debounced, backing off before a retry or parked behind their
   * concurrency key are not due yet and not counted. Reads the waiting jobs only (Job_waiting_idx).
   */
  oldestWaiting(): Promise<{ type: string; seconds: number }[]> {
    return this.db.query(
      `SELECT "type", extract(epoch FROM now() - min("runAt"))::float8 AS seconds
       FROM "Job" WHERE ${WAITING_SCAN} AND "runAt" <= now() GROUP BY "type" ORDER BY "type"`,
    );
  }

  /** Workers running and heartbeating within `staleMs`, oldest first. */
  liveWorkers(staleMs: number): Promise<WorkerRow[]> {
    return this.db.query<WorkerRow>(
      `SELECT w.id, w.hostname, w.pid, w.backend, w.concurrency, w."heartbeatAt", w."startedAt",
         (SELECT count(*)::int FROM "Job" j WHERE j."lockedBy" = w.id AND ${HELD_SCAN}) AS running
       FROM "Worker" w
       WHERE w."stoppedAt" IS NULL AND w."heartbeatAt" > now() - $1 * interval '1 millisecond' ORDER BY w."startedAt"`,
      [staleMs],
    );
  }
}

/** The WHERE clauses of a filter (combined with AND by the caller), its values added to `p`. */
function filterWhere(filter: JobFilter, p: Params): string[] {
  const where: string[] = [];
  if (filter.ids) where.push(`id = ANY(${p.add(filter.ids)}::uuid[])`);
  if (filter.status?.length) {
    where.push(`"status" = ANY(${p.add(filter.status)}::"JobStatus"[])`);
    // Said again as a constant when the statuses are all waiting or all held: the planner then
    // reads that partial index (live jobs only) instead of walking history by createdAt.
    for (const [live, scan] of [[WAITING_STATUSES, WAITING_SCAN], [HELD_STATUSES, HELD_SCAN]] as const) {
      if (filter.status.every((status) => (live as readonly JobStatus[]).includes(status))) where.push(scan);
    }
  }
  if (filter.type) where.push(`"type" = ${p.add(filter.type)}`);
  if (filter.phase) where.push(`"phase" = ${p.add(filter.phase)}::"Phase"`);
  if (filter.createdBy !== undefined) where.push(`"createdBy" = ${p.add(filter.createdBy)}`);
  if (filter.tags?.length) where.push(`"tags" @> ${p.add(filter.tags)}::text[]`);
  if (filter.input) where.push(`"input" @> ${p.json(filter.input)}`);
  if (filter.createdAfter) where.push(`"createdAt" >= ${p.add(filter.createdAfter)}::timestamptz`);
  if (filter.createdBefore) where.push(`"createdAt" < ${p.add(filter.createdBefore)}::timestamptz`);
  return where;
}
