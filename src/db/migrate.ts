// Applies prisma/migrations without the Prisma CLI (its schema engine cannot be downloaded
// offline), bookkeeping exactly as `prisma migrate deploy` does so that either tool sees the
// other's work: same `_prisma_migrations` table, same checksums, same advisory lock.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../lib/logger.ts';

/** prisma/migrations, found from this file so the working directory does not matter. */
export const defaultMigrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** What pg.Pool and pg.Client have in common; enough to migrate either. */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface Runner {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Runs a script of several statements. */
  exec(sql: string): Promise<unknown>;
}

interface Session extends Runner {
  transaction<T>(fn: (tx: Runner) => Promise<T>): Promise<T>;
}

interface LocalMigration {
  name: string;
  script: string;
  checksum: string;
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

// The key `prisma migrate` locks (session-level) while it migrates a Postgres database.
const PRISMA_ADVISORY_LOCK = 72707369;

// Prisma's own definition (schema-engine, PostgreSQL flavour).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

/** The migration directories in order, each with Prisma's checksum (sha256 hex of the file). */
export async function readMigrations(dir = defaultMigrationsDir): Promise<LocalMigration[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b)); // Prisma's order
  return Promise.all(
    names.map(async (name) => {
      const bytes = await readFile(join(dir, name, 'migration.sql'));
      return { name, script: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}

/**
 * Applies the migrations `target` has not recorded yet, each in its own transaction together with
 * its `_prisma_migrations` row, and returns their names. Safe to run from several processes at
 * once: everything happens under Prisma's advisory lock, on one connection. Refuses to go on when
 * a recorded migration failed or its file changed since it was applied.
 */
export async function applyMigrations(
  target: SqlExecutor,
  logger?: Logger,
  migrationsDir = defaultMigrationsDir,
): Promise<string[]> {
  const migrations = await readMigrations(migrationsDir);
  if (!(target instanceof pg.Pool)) return migrateSession(pgSession(target), migrations, logger);
  // A session lock and BEGIN…COMMIT need a connection of their own.
  const client = await target.connect();
  let failed = false;
  try {
    return await migrateSession(pgSession(client), migrations, logger);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    client.release(failed); // a broken connection (and any lock it holds) is closed, not reused
  }
}

async function migrateSession(session: Session, migrations: LocalMigration[], logger?: Logger): Promise<string[]> {
  await session.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
  try {
    await session.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await session.query(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"',
    );
    const applied = checkHistory(rows as MigrationRow[], migrations);
    const pending = migrations.filter((migration) => !applied.has(migration.name));
    for (const migration of pending) {
      await applyOne(session, migration);
      logger?.info({ migration: migration.name }, 'applied database migration');
    }
    return pending.map((migration) => migration.name);
  } finally {
    await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]);
  }
}

/** Names of the applied migrations; throws on a failed or edited one. */
function checkHistory(rows: MigrationRow[], migrations: LocalMigration[]): Set<string> {
  const files = new Map(migrations.map((migration) => [migration.name, migration]));
  const applied = new Set<string>();
  for (const row of rows) {
    if (row.rolled_back_at) continue; // rolled back: counts as not applied, as in Prisma
    if (!row.finished_at) {
      throw new Error(
        `Migration ${row.migration_name} failed in an earlier run and is recorded as unfinished in ` +
          `_prisma_migrations. Repair the database, then mark it (prisma migrate resolve) before migrating again.`,
      );
    }
    const file = files.get(row.migration_name);
    if (file && file.checksum !== row.checksum) {
      throw new Error(
        `Migration ${row.migration_name} was edited after it was applied (checksum mismatch). ` +
          `Restore prisma/migrations/${row.migration_name}/migration.sql and put changes in a new migration.`,
      );
    }
    applied.add(row.migration_name);
  }
  return applied;
}

async function applyOne(session: Session, migration: LocalMigration): Promise<void> {
  try {
    await session.transaction(async (tx) => {
      const id = randomUUID();
      await tx.query(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, clock_timestamp())',
        [id, migration.checksum, migration.name],
      );
      await tx.exec(migration.script);
      await tx.query(
        'UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
        [id],
      );
    });
  } catch (error) {
    // The transaction rolled back, record included: fix the file and run again.
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${migration.name} failed and was rolled back: ${reason}`, { cause: error });
  }
}

/** One pg connection (Client or checked-out PoolClient). */
function pgSession(client: SqlExecutor): Session {
  // Without parameters node-postgres uses the simple query protocol, which runs whole scripts.
  const runner: Runner = { query: (sql, params) => client.query(sql, params), exec: (sql) => client.query(sql) };
  return {
    ...runner,
    async transaction(fn) {
      await client.query('BEGIN');
      try {
        const result = await fn(runner);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
  };
}
