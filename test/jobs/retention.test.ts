import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, defaultMigrationsDir } from '../../src/db/migrate.ts';
import { loadConfig } from '../../src/config.ts';
import { Retention, type RetentionRules } from '../../src/jobs/ledger/retention.ts';
import { retentionRules } from '../../src/jobs/pruner.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestRegistry } from '../fixtures/tasks.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { waitUntil } from '../helpers/wait.ts';
import { Harness, systemPerFile, testEnv, waitForJob } from '../helpers/system.ts';

const DAY = 86_400_000;
const WEEK: RetentionRules = { default: { completed: 7 * DAY, failed: 30 * DAY }, byTask: new Map() };

/** Counts per status of one task, as queueInfo reports them. */
async function countsOf(system: JobSystem, type: string): Promise<Record<string, number>> {
  const info = await system.queueInfo();
  return Object.fromEntries(info.jobs.filter((row) => row.type === type).map((row) => [row.status, row.count]));
}

describe('retention and the tallies that outlive it', () => {
  // Pruning is driven by the tests, not the timer.
  const { system: current } = systemPerFile({ PRUNE_INTERVAL_MS: '3600000' });
  let system: JobSystem;
  beforeAll(() => {
    system = current();
  });
  const sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => system.db.query<T>(text, params);

  /** Makes jobs look as if they were created and ended `days` ago (not a status change: tallies stay). */
  const age = (ids: string[], days: number) =>
    sql(
      `UPDATE "Job" SET "createdAt" = now() - $2 * interval '1 day', "finishedAt" = CASE WHEN "finishedAt" IS NULL THEN NULL ELSE now() - $2 * interval '1 day' END WHERE id = ANY($1::uuid[])`,
      [ids, days],
    );
  const remaining = async (ids: string[]) =>
    (await sql<{ id: string }>(`SELECT id FROM "Job" WHERE id = ANY($1::uuid[])`, [ids])).map((row) => row.id).sort();
  const eventsOf = async (ids: string[]) =>
    (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM "JobEvent" WHERE "jobId" = ANY($1::uuid[])`, [ids]))[0]!.n;

  /** Runs `n` jobs of `type` to their end and returns their ids. */
  async function run(type: string, n: number, input: unknown = {}): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await system.enqueue(type, input)).job.id);
    for (const id of ids) await waitForJob(system, id);
    return ids;
  }

  it('counts finished jobs from their tallies, and a retried failure leaves the FAILED count', async () => {
    const done = await run('test.echo', 3, { value: 1 });
    const failed = await run('test.refuses', 2);
    expect(await countsOf(system, 'test.echo')).toEqual({ COMPLETED: 3 });
    expect(await countsOf(system, 'test.refuses')).toEqual({ FAILED: 2 });

    await system.retry(failed[0]!);
    await waitForJob(system, failed[0]!, 'FAILED');
    await waitUntil('FAILED counted twice', async () => (await countsOf(system, 'test.refuses')).FAILED === 2);
    const [tallied] = await sql<{ ended: number }>(`SELECT sum("ended")::int AS ended FROM "JobTally" WHERE "type" = 'test.refuses' AND "status" = 'FAILED'`);
    expect(tallied!.ended).toBe(3); // it failed three times: the chart shows each

    const minutes = await system.throughput(5);
    const now = minutes.filter((row) => row.status === 'COMPLETED').reduce((sum, row) => sum + row.ended, 0);
    expect(now).toBeGreaterThanOrEqual(done.length);
  });

  it('removes finished jobs past their period with their events, keeps the rest and every count', async () => {
    const old = await run('test.echo', 4, { value: 'old', steps: 2 });
    const recent = await run('test.echo', 2, { value: 'recent' });
    const oldFailed = await run('test.refuses', 2);
    const waiting = (await system.enqueue('test.echo', { value: 'waits' }, { delayMs: 3_600_000 })).job.id;
    await age([...old, ...oldFailed, waiting], 10);
    expect(await eventsOf(old)).toBeGreaterThan(0);
    const before = await countsOf(system, 'test.echo');
    const summaryBefore = await system.ledger.retention.summary();

    const pruned = await system.ledger.retention.prune(WEEK, 1_000);

    expect(pruned).toBe(old.length); // failed ones are kept 30 days, the waiting one is live
    expect(await remaining(old)).toEqual([]);
    expect(await eventsOf(old)).toBe(0);
    expect(await remaining([...recent, ...oldFailed, waiting])).toEqual([...recent, ...oldFailed, waiting].sort());
    expect(await countsOf(system, 'test.echo')).toEqual(before);
    const summary = await system.ledger.retention.summary();
    expect(summary.prunedJobs).toBe(summaryBefore.prunedJobs + old.length);
    expect(summary.lastPrunedAt).toBeInstanceOf(Date);
    expect(summary.oldestJobAt!.getTime()).toBeLessThan(Date.now() - 9 * DAY); // the waiting job

    await system.cancel(waiting);
  });

  it('follows a task’s own period over the default, and keeps forever what says forever', async () => {
    const echo = await run('test.echo', 2);
    const failed = await run('test.refuses', 2);
    await age([...echo, ...failed], 40);
    const rules: RetentionRules = {
      default: { completed: Infinity, failed: Infinity },
      byTask: new Map([['test.refuses', { completed: Infinity, failed: 35 * DAY }]]),
    };
    expect(await system.ledger.retention.prune(rules, 1_000)).toBe(failed.length);
    expect(await remaining(echo)).toEqual([...echo].sort());
    expect(await remaining(failed)).toEqual([]);
    expect(await system.ledger.retention.prune({ default: { completed: Infinity, failed: Infinity }, byTask: new Map() }, 1_000)).toBe(0);
    // And once the default has a period, they go.
    expect(await system.ledger.retention.prune({ default: { completed: 30 * DAY, failed: Infinity }, byTask: new Map() }, 1_000)).toBe(echo.length);
  });

  it('reads periods from the settings and the tasks, and refuses a period it cannot read', () => {
    const rules = retentionRules({ JOB_RETENTION: DAY, JOB_RETENTION_FAILED: Infinity }, createTestRegistry());
    expect(rules.default).toEqual({ completed: DAY, failed: Infinity });
    expect(() => loadConfig(testEnv({ JOB_RETENTION: 'a week' }))).toThrow(/JOB_RETENTION.*7d or 12h/s);
  });

  it('never removes a job twice: processes pruning at once remove each job once, in bounded batches', async () => {
    const ids = await run('test.echo', 60);
    await age(ids, 10);
    const others = [0, 1, 2].map(() => new pg.Pool({ connectionString: system.config.DATABASE_URL, max: 2 }));
    try {
      const pruners = others.map((pool) => new Retention({ kind: 'postgres', query: async (sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows } as never));
      const before = (await system.ledger.retention.summary()).prunedJobs;
      const removed: number[] = [];
      await Promise.all(
        pruners.map(async (retention) => {
          for (;;) {
            const n = await retention.prune(WEEK, 7);
            expect(n).toBeLessThanOrEqual(7);
            removed.push(n);
            if (n === 0 && (await remaining(ids)).length === 0) return;
          }
        }),
      );
      expect(removed.reduce((a, b) => a + b, 0)).toBe(ids.length);
      expect((await system.ledger.retention.summary()).prunedJobs).toBe(before + ids.length);
    } finally {
      await Promise.all(others.map((pool) => pool.end()));
    }
  });

  it('rolls minute tallies older than two hours into their day without changing a count', async () => {
    await sql(
      `INSERT INTO "JobTally" ("bucket", "type", "status", "shard", "count", "ended", "durationMs") VALUES
       (date_trunc('minute', now() - interval '3 days'), 'test.old', 'COMPLETED', 0, 5, 5, 50),
       (date_trunc('minute', now() - interval '3 days') + interval '1 minute', 'test.old', 'COMPLETED', 2, 1, 1, 10),
       (date_trunc('minute', now() - interval '5 hours'), 'test.old', 'FAILED', 1, 2, 2, 0)`,
    );
    const before = await countsOf(system, 'test.old');
    expect(await system.ledger.retention.compactTallies()).toBe(3);
    expect(await countsOf(system, 'test.old')).toEqual(before);
    const rows = await sql<{ shard: number }>(`SELECT "shard", "count" FROM "JobTally" WHERE "type" = 'test.old' ORDER BY "status"`);
    expect(rows.every((row) => row.shard === -1)).toBe(true);
    expect(await system.ledger.retention.compactTallies()).toBe(0);
  });
});

describe('retention on the embedded ledger', () => {
  // As npm start's processes open it: DATABASE_URL unset, EMBEDDED_LEDGER_URL given (here a
  // database of its own, so the test sees every row of its ledger).
  it('prunes with the worker’s pruner as on PostgreSQL, and keeps the counts', async () => {
    const database = await createTestDatabase();
    const harness = new Harness(
      testEnv({ DATABASE_URL: undefined, EMBEDDED_LEDGER_URL: database.url, QUEUE_BACKEND: 'inline', PRUNE_INTERVAL_MS: '3600000', JOB_RETENTION: '1d' }),
    );
    try {
      const system = await harness.start();
      expect(system.db.kind).toBe('embedded');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await system.enqueue('test.echo', { value: i })).job.id);
      for (const id of ids) await waitForJob(system, id);
      await system.db.query(`UPDATE "Job" SET "createdAt" = now() - interval '2 days', "finishedAt" = now() - interval '2 days' WHERE id = ANY($1::uuid[])`, [ids.slice(0, 3)]);
      expect(await system.pruner!.prune()).toBe(3);
      expect((await system.db.query(`SELECT id FROM "Job"`)).length).toBe(2);
      expect(await countsOf(system, 'test.echo')).toEqual({ COMPLETED: 5 });
      expect((await system.queueInfo()).retention).toMatchObject({ completed: '1d', failed: '30d', prunedJobs: 3 });
    } finally {
      await harness.stopAll();
      await database.drop();
    }
  });
});

describe('the migration to tallies', () => {
  it('keeps the counts of a ledger that already holds finished jobs', async () => {
    const database = await createTestDatabase({ empty: true });
    const client = new pg.Client({ connectionString: database.url });
    const before = await mkdtemp(join(tmpdir(), 'jobgraph-migrations-'));
    try {
      await client.connect();
      const all = (await readdir(defaultMigrationsDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
      const tally = all.findIndex((name) => name.endsWith('_job_tally'));
      for (const name of all.slice(0, tally)) await cp(join(defaultMigrationsDir, name), join(before, name), { recursive: true });
      await applyMigrations(client, undefined, before);
      await client.query(
        `INSERT INTO "Job" (id, type, phase, status, input, "maxAttempts", backend, "createdAt", "startedAt", "finishedAt")
         SELECT gen_random_uuid(), 'test.echo', 'PLANNING', s::"JobStatus", '{}', 1, 'INLINE', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day' + interval '2 seconds'
         FROM unnest(array['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED']) s`,
      );
      await applyMigrations(client);
      const counts = await client.query(`SELECT "status", sum("count")::int AS n, sum("durationMs")::int AS ms FROM "JobTally" GROUP BY "status" ORDER BY "status"`);
      expect(counts.rows).toEqual([
        { status: 'COMPLETED', n: 3, ms: 6_000 },
        { status: 'FAILED', n: 1, ms: 2_000 },
      ]);
      expect((await client.query(`SELECT count(*)::int AS n FROM "Job"`)).rows[0]).toEqual({ n: 4 });
    } finally {
      await client.end();
      await rm(before, { recursive: true, force: true });
      await database.drop();
    }
  });
});

