/**
 * Retention: finished jobs leave the ledger, with their events, once past their period, and the
 * tallies that outlive them (JobTally, kept by the trigger `job_tally`) are rolled up as they age.
 * What the counts and the throughput chart read is in JobTally, so neither changes when jobs go.
 */
import type { LedgerDb } from '../../db/client.ts';
import { TERMINAL_STATUSES } from '../states.ts';
import { statusIn } from './sql.ts';

/** How long finished jobs are kept, in ms; Infinity keeps them. */
export interface RetentionPeriods {
  /** COMPLETED and CANCELLED. */
  completed: number;
  failed: number;
}

export interface RetentionRules {
  default: RetentionPeriods;
  /** Per task, where a task sets its own. */
  byTask: ReadonlyMap<string, RetentionPeriods>;
}

export interface RetentionSummary {
  /** Jobs removed by retention since the ledger began. */
  prunedJobs: number;
  lastPrunedAt: Date | null;
  /** When the oldest job still in the ledger was created. */
  oldestJobAt: Date | null;
}

/** Minute tallies older than this are rolled into their day: the chart reads the last hour. */
const MINUTE_TALLIES_KEPT = "interval '2 hours'";
/** -1 stands for "forever" in the statement's arrays (Infinity has no interval). */
const FOREVER = -1;

export class Retention {
  private readonly db: LedgerDb;
  constructor(db: LedgerDb) {
    this.db = db;
  }

  /**
   * Removes up to `batch` finished jobs past their period (their events go with them, by the
   * foreign key), oldest first, and returns how many. One statement: it counts what it removed in
   * LedgerRetention as it goes. One process prunes at a time (an advisory lock; another process
   * gets 0 at once), and rows a transaction holds are skipped, never waited for.
   */
  async prune(rules: RetentionRules, batch: number): Promise<number> {
    const periods = [rules.default, ...rules.byTask.values()];
    const shortest = Math.min(...periods.flatMap((p) => [p.completed, p.failed]));
    if (shortest === Infinity) return 0;
    const types = [...rules.byTask.keys()];
    const ms = (period: number) => (period === Infinity ? FOREVER : period);
    const [row] = await this.db.query<{ pruned: number }>(
      `WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(hashtext('jobgraph:retention')) AS got),
       rule AS (SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[]) AS r("type", completed, failed)),
       doomed AS (
         SELECT j.id FROM lock, "Job" j LEFT JOIN rule r ON r."type" = j."type"
           CROSS JOIN LATERAL (SELECT CASE WHEN j."status" = 'FAILED' THEN coalesce(r.failed, $5::float8) ELSE coalesce(r.completed, $4::float8) END AS ms) keep
         WHERE lock.got
           -- The shortest period bounds the scan of the createdAt index: a job ends after it is created.
           AND j."createdAt" < now() - $6::float8 * interval '1 millisecond'
           AND ${statusIn(TERMINAL_STATUSES, 'j."status"')}
           AND keep.ms >= 0
           AND j."finishedAt" < now() - keep.ms * interval '1 millisecond'
         ORDER BY j."createdAt" LIMIT $7 FOR UPDATE OF j SKIP LOCKED),
       gone AS (DELETE FROM "Job" WHERE id IN (SELECT id FROM doomed) RETURNING 1),
       counted AS (
         INSERT INTO "LedgerRetention" AS t ("singleton", "prunedJobs", "lastPrunedAt")
         SELECT 1, count(*), now() FROM gone HAVING count(*) > 0
         ON CONFLICT ("singleton") DO UPDATE SET "prunedJobs" = t."prunedJobs" + excluded."prunedJobs", "lastPrunedAt" = excluded."lastPrunedAt")
       SELECT count(*)::int AS pruned FROM gone`,
      [
        types,
        types.map((type) => ms(rules.byTask.get(type)!.completed)),
        types.map((type) => ms(rules.byTask.get(type)!.failed)),
        ms(rules.default.completed),
        ms(rules.default.failed),
        shortest,
        batch,
      ],
      'jobgraph.prune',
    );
    return row?.pruned ?? 0;
  }

  /** Rolls minute tallies older than two hours into their day; returns how many rows it merged. */
  async compactTallies(): Promise<number> {
    const [row] = await this.db.query<{ merged: number }>(
      `WITH old AS (DELETE FROM "JobTally" WHERE "shard" >= 0 AND "bucket" < now() - ${MINUTE_TALLIES_KEPT} RETURNING *),
       rolled AS (
         INSERT INTO "JobTally" AS t ("bucket", "type", "status", "shard", "count", "ended", "durationMs")
         SELECT date_trunc('day', "bucket"), "type", "status", -1, sum("count"), sum("ended"), sum("durationMs")
         FROM old GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
         ON CONFLICT ("bucket", "type", "status", "shard") DO UPDATE
           SET "count" = t."count" + excluded."count", "ended" = t."ended" + excluded."ended", "durationMs" = t."durationMs" + excluded."durationMs")
       SELECT count(*)::int AS merged FROM old`,
    );
    return row?.merged ?? 0;
  }

  async summary(): Promise<RetentionSummary> {
    const [row] = await this.db.query<RetentionSummary>(
      `SELECT coalesce(r."prunedJobs"::float8, 0) AS "prunedJobs", r."lastPrunedAt", (SELECT min("createdAt") FROM "Job") AS "oldestJobAt"
       FROM (SELECT 1) one LEFT JOIN "LedgerRetention" r ON r."singleton" = 1`,
    );
    return row ?? { prunedJobs: 0, lastPrunedAt: null, oldestJobAt: null };
  }
}
