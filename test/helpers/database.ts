// Fresh, already-migrated PostgreSQL databases for tests, in milliseconds: the migrations run
// once into a template database, and every test database is a copy of it.
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { applyMigrations, readMigrations } from '../../src/db/migrate.ts';

export interface TestDatabase {
  url: string;
  /** Disconnects everyone and drops the database; idempotent. */
  drop(): Promise<void>;
}

const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Serialises template builds across vitest workers (advisory locks are per database: all
// workers take it on the base database).
const TEMPLATE_LOCK = 7_270_736_901;

let template: Promise<string> | undefined;

/** A new database, migrated unless `empty` is set (for testing the migrations themselves). */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const source = opts.empty ? 'template0' : await migratedTemplate();
  const name = `jobgraph_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(source)}`));
  let dropped: Promise<void> | undefined;
  return {
    url: urlFor(name),
    drop: () =>
      (dropped ??= withAdmin(async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
      })),
  };
}

function migratedTemplate(): Promise<string> {
  template ??= ensureTemplate().catch((error: unknown) => {
    template = undefined; // let the next test retry
    throw error;
  });
  return template;
}

/**
 * The template for the current migrations (its name carries their hash, so changing any
 * migration makes a new one). Built under a temporary name and renamed when complete, so a crash
 * midway never leaves a half-migrated template behind.
 */
async function ensureTemplate(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await readMigrations()) hash.update(`${migration.name}\0${migration.checksum}\0`);
  const name = `jobgraph_tpl_${hash.digest('hex').slice(0, 16)}`;
  await withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return; // another worker built it; the lock goes with the connection
    const building = `${name}_building`;
    await admin.query(`DROP DATABASE IF EXISTS ${ident(building)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${ident(building)} TEMPLATE template0`);
    const client = new pg.Client({ connectionString: urlFor(building) });
    await client.connect();
    try {
      await applyMigrations(client);
    } finally {
      await client.end();
    }
    await admin.query(`ALTER DATABASE ${ident(building)} RENAME TO ${ident(name)}`);
  });
  return name;
}

/** Runs `fn` with a connection to the base database (DATABASE_URL), closed afterwards. */
export async function withAdmin<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** The base URL pointed at another database. */
export function urlFor(database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const ident = (name: string) => pg.escapeIdentifier(name);

/** A statement a ledger sent, as recordStatements saw it. */
export interface SentStatement {
  sql: string;
  params: unknown[];
  name?: string | undefined;
}

/** Records every statement `ldb` sends into `sent` (to EXPLAIN what the code really asks). */
export function recordStatements(ldb: { query: (sql: string, params?: unknown[], name?: string) => Promise<unknown[]> }, sent: SentStatement[]): void {
  const query = ldb.query.bind(ldb);
  (ldb as { query: typeof ldb.query }).query = (sql, params, name) => {
    sent.push({ sql, params: params ?? [], name });
    return query(sql, params, name);
  };
}
