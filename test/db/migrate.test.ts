import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { SchemaEngine, type MigrationList } from '@prisma/schema-engine-wasm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger, type LedgerDb } from '../../src/db/client.ts';
import { applyMigrations, defaultMigrationsDir, readMigrations, type SqlExecutor } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../helpers/database.ts';

// Cleanups run last-registered first: pools close before their database is dropped.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function emptyPostgresUrl(): Promise<string> {
  const db = await createTestDatabase({ empty: true });
  cleanups.push(db.drop);
  return db.url;
}

function poolFor(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // Dropping the database ends the connections a pool still holds: expected here, not a failure.
  pool.on('error', () => {});
  cleanups.push(() => pool.end());
  return pool;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jobgraph-migrate-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of prisma/migrations that a test may change. */
async function migrationsCopy(): Promise<string> {
  const dir = join(await tempDir(), 'migrations');
  await cp(defaultMigrationsDir, dir, { recursive: true });
  return dir;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function recorded(target: SqlExecutor) {
  const { rows } = await target.query(
    `SELECT migration_name, checksum, logs, rolled_back_at, applied_steps_count, finished_at IS NOT NULL AS finished
       FROM "_prisma_migrations" ORDER BY migration_name`,
  );
  return rows;
}

const local = await readMigrations();
const names = local.map((migration) => migration.name);

const makeTarget = async (): Promise<SqlExecutor> => poolFor(await emptyPostgresUrl());

describe('applyMigrations on PostgreSQL', () => {
  it('applies every migration once, recorded as Prisma records it; a second run is a no-op', async () => {
    const target = await makeTarget();
    expect(names.length).toBeGreaterThan(0);

    expect(await applyMigrations(target)).toEqual(names);
    const expected = names.map((name) => ({
      migration_name: name,
      checksum: sha256(join(defaultMigrationsDir, name, 'migration.sql')),
      logs: null,
      rolled_back_at: null,
      applied_steps_count: 1,
      finished: true,
    }));
    expect(await recorded(target)).toEqual(expected);
    const { rows: tables } = await target.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    const ledger = ['FlowLimit', 'FlowLimitLease', 'FlowLimitUse', 'Job', 'JobEvent', 'JobTally', 'LedgerIdentity', 'LedgerRetention', 'RunEvent', 'RunStep', 'Schedule', 'Worker', 'WorkflowRun', '_prisma_migrations'];
    const workflow = ['Attribute', 'DataElement', 'Dataset', 'DatasetProfile', 'DatasetRecord', 'PdeMapping', 'ProfilingRule', 'Report', 'Sample', 'ScopingRecommendation', 'TestResult', 'TestRun'];
    expect(tables).toEqual([...ledger, ...workflow].sort().map((table_name) => ({ table_name })));

    expect(await applyMigrations(target)).toEqual([]);
    expect(await recorded(target)).toEqual(expected);
  });

  it('refuses to go on when an applied migration was edited', async () => {
    const target = await makeTarget();
    const dir = await migrationsCopy();
    await applyMigrations(target, undefined, dir);
    await appendFile(join(dir, names[0]!, 'migration.sql'), '\n-- an afterthought\n');
    await expect(applyMigrations(target, undefined, dir)).rejects.toThrow(
      `Migration ${names[0]} was edited after it was applied (checksum mismatch)`,
    );
  });

  it('refuses to go on when a recorded migration failed', async () => {
    const target = await makeTarget();
    await applyMigrations(target);
    await target.query('UPDATE "_prisma_migrations" SET finished_at = NULL WHERE migration_name = $1', [names[0]]);
    await expect(applyMigrations(target)).rejects.toThrow(`Migration ${names[0]} failed in an earlier run`);
  });

  it('rolls a failing migration back together with its record', async () => {
    const target = await makeTarget();
    const dir = await migrationsCopy();
    const broken = join(dir, '99990101000000_broken');
    await mkdir(broken);
    await writeFile(join(broken, 'migration.sql'), 'CREATE TABLE "Half" (id INT);\nSELECT * FROM "Missing";\n');

    await expect(applyMigrations(target, undefined, dir)).rejects.toThrow(
      /Migration 99990101000000_broken failed and was rolled back: .*"Missing"/,
    );
    // The earlier migrations stay applied; nothing of the broken one remains.
    expect((await recorded(target)).map((row) => (row as { migration_name: string }).migration_name)).toEqual(names);
    const { rows } = await target.query(`SELECT to_regclass('"Half"') AS half`);
    expect(rows).toEqual([{ half: null }]);

    await writeFile(join(broken, 'migration.sql'), 'CREATE TABLE "Half" (id INT);\n');
    expect(await applyMigrations(target, undefined, dir)).toEqual(['99990101000000_broken']);
  });
});

describe('applyMigrations on PostgreSQL, with others', () => {
  it('applies each migration exactly once when three processes start together', async () => {
    const url = await emptyPostgresUrl();
    const pools = [poolFor(url), poolFor(url), poolFor(url)];
    const results = await Promise.all(pools.map((pool) => applyMigrations(pool)));
    // The whole run happens under the lock: one caller applies everything, the others nothing.
    expect(results.filter((applied) => applied.length > 0)).toEqual([names]);
    expect(await recorded(pools[0]!)).toHaveLength(names.length);
  });

  describe("and Prisma's schema engine (what `prisma migrate deploy` runs)", () => {
    async function engineFor(url: string) {
      // The engine keeps Prisma's advisory lock for as long as its connection lives (the CLI
      // simply exits), so `stop` must close that connection before anyone else migrates.
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      pool.on('error', () => {});
      const engine = await SchemaEngine.new(
        { datamodels: undefined },
        () => {},
        bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool)),
      );
      let stopped: Promise<void> | undefined;
      const stop = () => (stopped ??= (async () => {
        engine.free();
        await pool.end();
      })());
      cleanups.push(stop);
      const migrationsList: MigrationList = {
        baseDir: defaultMigrationsDir,
        lockfile: {
          path: 'migration_lock.toml',
          content: await readFile(join(defaultMigrationsDir, 'migration_lock.toml'), 'utf8'),
        },
        shadowDbInitScript: '',
        migrationDirectories: local.map((migration) => ({
          path: migration.name,
          migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: migration.script } },
        })),
      };
      return { engine, stop, migrationsList, filters: { externalTables: [], externalEnums: [] } };
    }

    it('sees our migrations as applied and unedited', async () => {
      const url = await emptyPostgresUrl();
      await applyMigrations(poolFor(url));
      const { engine, migrationsList, filters } = await engineFor(url);
      expect(await engine.diagnoseMigrationHistory({ migrationsList, filters, optInToShadowDatabase: false })).toEqual({
        editedMigrationNames: [],
        failedMigrationNames: [],
        hasMigrationsTable: true,
        history: null,
      });
      expect(await engine.applyMigrations({ migrationsList, filters })).toEqual({ appliedMigrationNames: [] });
    });

    it('leaves us nothing to do after it migrated', async () => {
      const url = await emptyPostgresUrl();
      const { engine, stop, migrationsList, filters } = await engineFor(url);
      expect(await engine.applyMigrations({ migrationsList, filters })).toEqual({ appliedMigrationNames: names });
      await stop();
      expect(await applyMigrations(poolFor(url))).toEqual([]);
    });
  });
});

const ledgers: Record<LedgerDb['kind'], () => Promise<LedgerDb>> = {
  postgres: async () => {
    const db = await createTestDatabase();
    cleanups.push(db.drop);
    return openLedger({ databaseUrl: db.url });
  },
  // As the processes of `npm start` open the embedded server (any PostgreSQL, shown as embedded),
  // on an empty database that openLedger migrates first.
  embedded: async () => openLedger({ databaseUrl: await emptyPostgresUrl(), embedded: true }),
};

describe.each(Object.entries(ledgers))('openLedger on %s', (kind, open) => {
  it('round-trips a Job and its events through Prisma and raw SQL', async () => {
    const ledger = await open();
    cleanups.push(() => ledger.close());
    expect(ledger.kind).toBe(kind);
    expect(ledger.pool).toBeDefined();

    const id = randomUUID();
    const input = { scope: { ids: [1, 2, 3], note: 'naïve ✓' }, flag: true, none: null };
    const runAt = new Date('2031-02-03T04:05:06.789Z');
    await ledger.prisma.job.create({
      data: {
        id,
        type: 'demo',
        phase: 'DATA_PROFILING',
        input,
        maxAttempts: 3,
        backend: 'INLINE',
        runAt,
        events: { create: [{ seq: 1, kind: 'STATUS', status: 'QUEUED', progress: 0, data: { from: null } }] },
      },
    });
    await ledger.prisma.job.update({ where: { id }, data: { status: 'COMPLETED', result: ['done', { rows: 2 }] } });

    const job = await ledger.prisma.job.findUniqueOrThrow({ where: { id }, include: { events: true } });
    expect(job).toMatchObject({
      id,
      phase: 'DATA_PROFILING',
      status: 'COMPLETED',
      backend: 'INLINE',
      input,
      result: ['done', { rows: 2 }],
      runAt,
      startedAt: null,
    });
    expect(job.createdAt).toBeInstanceOf(Date);
    expect(Math.abs(job.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect(job.events).toEqual([
      expect.objectContaining({ jobId: id, seq: 1, kind: 'STATUS', status: 'QUEUED', progress: 0, data: { from: null } }),
    ]);

    // Raw SQL sees the same row, with the same JS types as Prisma.
    const rows = await ledger.query(
      'SELECT id, status, input, "runAt", (SELECT count(*) FROM "JobEvent" WHERE "jobId" = $1) AS events FROM "Job" WHERE id = $1',
      [id],
    );
    expect(rows).toEqual([{ id, status: 'COMPLETED', input, runAt, events: '1' }]);

    await ledger.close();
    await ledger.close(); // idempotent
  });
});

describe('openLedger', () => {
  it('rejects an unreachable PostgreSQL naming the host, never the password', async () => {
    const error = await openLedger({
      databaseUrl: 'postgres://postgres:s3cret-pw@127.0.0.1:1/jobgraph',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/jobgraph: /);
    expect((error as Error).message).not.toContain('s3cret-pw');
  });

  it('migrates an empty database, only once, and keeps its data', async () => {
    const url = await emptyPostgresUrl();
    const first = await openLedger({ databaseUrl: url });
    cleanups.push(() => first.close());
    await first.prisma.worker.create({
      data: { id: 'w1', hostname: 'h', pid: 1, backend: 'INLINE', concurrency: 1 },
    });
    await first.close();

    const second = await openLedger({ databaseUrl: url });
    cleanups.push(() => second.close());
    expect(await second.prisma.worker.count()).toBe(1);
    expect(await second.query('SELECT migration_name FROM "_prisma_migrations"')).toHaveLength(names.length);
  });

  it('skips migrations when asked', async () => {
    const ledger = await openLedger({ databaseUrl: await emptyPostgresUrl(), migrate: false });
    cleanups.push(() => ledger.close());
    expect(await ledger.query(`SELECT to_regclass('"_prisma_migrations"') AS t`)).toEqual([{ t: null }]);
  });
});
