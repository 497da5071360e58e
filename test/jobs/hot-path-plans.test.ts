import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preloadHistory } from '../../bench/lib.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

/**
 * Costs must not grow with history: on a ledger holding 100,000 finished jobs, the statements the
 * sweep, the reaper, the counts and the dashboard run find live jobs through the partial indexes
 * (or the key), never by reading the table. A plan that falls back to a scan of "Job" fails here.
 */
const STATEMENTS: Record<string, { sql: string; index: string }> = {
  'the sweep (Outbox.lease)': {
    sql: `SELECT id FROM "Job" WHERE "status" IN ('QUEUED', 'RETRYING')
            AND (("dispatchedAt" IS NULL AND "runAt" <= now()) OR ("dispatchedAt" < now() - interval '30 s' AND "runAt" < now() - interval '30 s'))
          ORDER BY "priority" DESC, "runAt" LIMIT 100 FOR UPDATE SKIP LOCKED`,
    index: 'Job_waiting_idx',
  },
  'the reaper (Liveness.staleJobs)': {
    sql: `SELECT * FROM "Job" WHERE "status" IN ('RUNNING', 'CANCELLING') AND "heartbeatAt" < now() - interval '30 s'`,
    index: 'Job_held_idx',
  },
  'a backend going down (Outbox.forget)': {
    sql: `SELECT id FROM "Job" WHERE "status" IN ('QUEUED', 'RETRYING') AND "backend" = 'BULLMQ' AND "queueRef" IS NOT NULL ORDER BY id FOR UPDATE`,
    index: 'Job_waiting_idx',
  },
  'the counts, waiting half': {
    sql: `SELECT "status", "type", count(*)::int FROM "Job" WHERE "status" IN ('QUEUED', 'RETRYING') GROUP BY "status", "type"`,
    index: 'Job_waiting_idx',
  },
  'the counts, held half': {
    sql: `SELECT "status", "type", count(*)::int FROM "Job" WHERE "status" IN ('RUNNING', 'CANCELLING') GROUP BY "status", "type"`,
    index: 'Job_held_idx',
  },
  'a worker’s running jobs (queueInfo)': {
    sql: `SELECT count(*)::int FROM "Job" j WHERE j."lockedBy" = 'w1' AND j."status" IN ('RUNNING', 'CANCELLING')`,
    index: 'Job_held_idx',
  },
  'jobs(status: QUEUED) (LedgerQueries.listJobs)': {
    sql: `SELECT * FROM "Job" WHERE "status" = ANY('{QUEUED}'::"JobStatus"[]) AND "status" IN ('QUEUED', 'RETRYING') ORDER BY "createdAt" DESC, id DESC LIMIT 21`,
    index: 'Job_waiting_idx',
  },
  'an idempotency key (LedgerQueries.byIdempotencyKey)': {
    sql: `SELECT * FROM "Job" WHERE "type" = 'test.echo' AND "idempotencyKey" = 'k-1'`,
    index: 'Job_type_idempotencyKey_key',
  },
};

describe('the hot path on a ledger with history', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    await preloadHistory(database.url, 100_000);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(
      `INSERT INTO "Job" (id, type, phase, status, input, "maxAttempts", backend, "lockedBy", "heartbeatAt", "idempotencyKey")
       SELECT gen_random_uuid(), 'test.echo', 'PLANNING', (CASE WHEN g % 10 = 0 THEN 'RUNNING' ELSE 'QUEUED' END)::"JobStatus", '{}', 1, 'BULLMQ',
              CASE WHEN g % 10 = 0 THEN 'w1' END, now(), 'k-' || g
       FROM generate_series(1, 200) g`,
    );
    await client.query('ANALYZE "Job"');
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  for (const [name, { sql, index }] of Object.entries(STATEMENTS)) {
    it(`${name} reads ${index}, not the table`, async () => {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`);
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      expect(plan, plan).toContain(index);
      expect(plan, plan).not.toMatch(/Seq Scan on "Job"/);
    });
  }
});
