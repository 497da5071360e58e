import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preloadHistory } from '../../bench/lib.ts';
import { openLedger, type LedgerDb } from '../../src/db/client.ts';
import { Ledger } from '../../src/jobs/ledger/index.ts';
import { HELD_SCAN, WAITING_SCAN } from '../../src/jobs/ledger/sql.ts';
import { createTestDatabase, recordStatements, type SentStatement, type TestDatabase } from '../helpers/database.ts';

/**
 * Costs must not grow with history. On a ledger holding 100,000 finished jobs, analysed while no
 * job waited (as statistics often are), with a backlog of 3,000 waiting jobs since:
 * - the statements that scan live jobs read the partial indexes, never the table;
 * - the statements that find jobs by id read the key, never a partial index. Planned on those
 *   statistics, a by-id statement that could read Job_waiting_idx took it for nearly empty and
 *   scanned the whole backlog for every job (measured: confirmations of 1.2 s on a ledger with a
 *   million finished jobs). Those are the ledger's own statements, captured as it sends them.
 */
const SCANS: Record<string, { sql: string; index: string }> = {
  'the sweep (Outbox.lease)': {
    sql: `SELECT id FROM "Job" WHERE ${WAITING_SCAN}
            AND (("dispatchedAt" IS NULL AND "runAt" <= now()) OR ("dispatchedAt" < now() - interval '30 s' AND "runAt" < now() - interval '30 s'))
          ORDER BY "priority" DESC, "runAt" LIMIT 100 FOR UPDATE SKIP LOCKED`,
    index: 'Job_waiting_idx',
  },
  'the reaper (Liveness.staleJobs)': {
    sql: `SELECT * FROM "Job" WHERE ${HELD_SCAN} AND ("heartbeatAt" IS NULL OR "heartbeatAt" < now() - interval '30 s') ORDER BY "heartbeatAt" LIMIT 100`,
    index: 'Job_held_idx',
  },
  'a backend going down (Outbox.forget)': {
    sql: `SELECT id FROM "Job" WHERE ${WAITING_SCAN} AND "backend" = 'BULLMQ' AND "queueRef" IS NOT NULL ORDER BY id FOR UPDATE`,
    index: 'Job_waiting_idx',
  },
  'the counts, waiting half': {
    sql: `SELECT "status", "type", count(*)::int FROM "Job" WHERE ${WAITING_SCAN} GROUP BY "status", "type"`,
    index: 'Job_waiting_idx',
  },
  'the counts, held half': {
    sql: `SELECT "status", "type", count(*)::int FROM "Job" WHERE ${HELD_SCAN} GROUP BY "status", "type"`,
    index: 'Job_held_idx',
  },
  'a worker’s running jobs (queueInfo)': {
    sql: `SELECT count(*)::int FROM "Job" j WHERE j."lockedBy" = 'w1' AND ${HELD_SCAN}`,
    index: 'Job_held_idx',
  },
  'jobs(status: QUEUED) (LedgerQueries.listJobs)': {
    sql: `SELECT * FROM "Job" WHERE "status" = ANY('{QUEUED}'::"JobStatus"[]) AND ${WAITING_SCAN} ORDER BY "createdAt" DESC, id DESC LIMIT 21`,
    index: 'Job_waiting_idx',
  },
  'jobs(type: …) (LedgerQueries.listJobs)': {
    sql: `SELECT * FROM "Job" WHERE "type" = 'test.echo' ORDER BY "createdAt" DESC, id DESC LIMIT 21`,
    index: 'Job_type_createdAt_idx',
  },
  'an idempotency key (LedgerQueries.byIdempotencyKey)': {
    sql: `SELECT * FROM "Job" WHERE "type" = 'test.echo' AND "idempotencyKey" = 'k-1'`,
    index: 'Job_type_idempotencyKey_key',
  },
};

const newJob = () => ({ type: 'test.echo', phase: 'PLANNING' as const, input: {}, maxAttempts: 1, backend: 'BULLMQ' });

describe('the hot path on a ledger with history', () => {
  let database: TestDatabase;
  let client: pg.Client;
  let ldb: LedgerDb;
  const sent: SentStatement[] = [];

  const plan = async (sql: string, params: unknown[] = []) => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    await preloadHistory(database.url, 100_000);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('ANALYZE "Job"'); // statistics from a quiet moment: no job waits
    await client.query(
      `INSERT INTO "Job" (id, type, phase, status, input, "maxAttempts", backend, "lockedBy", "heartbeatAt", "idempotencyKey", "dispatchedAt")
       SELECT gen_random_uuid(), 'test.echo', 'PLANNING', (CASE WHEN g % 60 = 0 THEN 'RUNNING' ELSE 'QUEUED' END)::"JobStatus", '{}', 1, 'BULLMQ',
              CASE WHEN g % 60 = 0 THEN 'w1' END, now(), 'k-' || g, now()
       FROM generate_series(1, 3000) g`,
    );
    ldb = await openLedger({ databaseUrl: database.url, migrate: false });
    recordStatements(ldb, sent);
  }, 120_000);
  afterAll(async () => {
    await ldb?.close();
    await client?.end();
    await database?.drop();
  });

  for (const [name, { sql, index }] of Object.entries(SCANS)) {
    it(`${name} reads ${index}, not the table`, async () => {
      const text = await plan(sql);
      expect(text, text).toContain(index);
      expect(text, text).not.toMatch(/Seq Scan on "Job"/);
    });
  }

  it('a job’s statements by id (create, lease, confirm, claim, heartbeat, complete, cancel) read the key, in generic plans too', async () => {
    const ledger = new Ledger(ldb);
    const jobs = await Promise.all([1, 2, 3].map(() => ledger.transitions.createJob(newJob())));
    const ids = jobs.map(({ job }) => job.id);
    await Promise.all(ids.map((jobId, i) => ledger.outbox.confirm(jobId, jobs[i]!.job.dispatchedAt!, 'BULLMQ', `ref-${jobId}`)));
    await Promise.all(ids.map((id) => ledger.transitions.claim(id, 'w-test')));
    await ledger.liveness.heartbeat('w-test', ids);
    await Promise.all(ids.slice(0, 2).map((id) => ledger.transitions.complete(id, 'w-test', null)));
    const waiting = await ledger.transitions.createJob(newJob());
    await ledger.outbox.release(waiting.job.id, null);
    await ledger.transitions.cancel(waiting.job.id, null);
    const byId = sent.filter(({ sql }) => /id = ANY\(\$1|id = \$1\b/.test(sql) && /UPDATE "Job"/.test(sql));
    expect(byId.length).toBeGreaterThanOrEqual(6);
    await client.query('SET plan_cache_mode = force_generic_plan');
    try {
      for (const { sql, params, name } of byId) {
        const text = await plan(sql, params);
        expect(text, `${name ?? sql.slice(0, 80)}\n${text}`).not.toMatch(/Job_waiting_idx|Job_held_idx|Seq Scan on "Job"/);
      }
    } finally {
      await client.query('RESET plan_cache_mode');
    }
  });
});
