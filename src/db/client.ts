// Opens the job ledger: a PostgreSQL server, either DATABASE_URL's or the embedded one `npm start`
// runs (src/db/embedded-postgres.ts). Prisma reaches it through its driver adapter, and hot paths
// through a raw `query` on the same pool.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../lib/logger.ts';
import { once } from '../lib/once.ts';
import { applyMigrations } from './migrate.ts';
import { markNotSent, retryOnConflict } from './conflicts.ts';

export interface LedgerDb {
  /** postgres: DATABASE_URL's server; embedded: the PostgreSQL that `npm start` runs in EMBEDDED_DIR. */
  readonly kind: 'postgres' | 'embedded';
  readonly prisma: PrismaClient;
  /** The pool Prisma uses (for raw hot-path SQL, migrations, NOTIFY). */
  readonly pool: pg.Pool;
  /**
   * Raw parameterised SQL ($1, $2…) on the same database, for hot paths. A `name` (hot statements)
   * makes it a prepared statement: one name, always the same SQL.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], name?: string): Promise<T[]>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface OpenLedgerOptions {
  /** postgres:// URL of the ledger's database. */
  databaseUrl: string;
  /** The server is the embedded one (shown as the ledger's kind); default false. */
  embedded?: boolean;
  logger?: Logger;
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** Pool size (default 10). */
  poolMax?: number;
  /** How its connections name themselves to the server (pg_stat_activity): see application-names.ts. */
  applicationName?: string;
}

export async function openLedger(opts: OpenLedgerOptions): Promise<LedgerDb> {
  const db = await openPostgres(opts.databaseUrl, opts, opts.embedded ? 'embedded' : 'postgres');
  try {
    if (opts.migrate ?? true) await applyMigrations(db.pool, opts.logger);
  } catch (error) {
    await db.close();
    throw error;
  }
  opts.logger?.info({ kind: db.kind }, 'ledger database open');
  return db;
}

async function openPostgres(url: string, opts: OpenLedgerOptions, kind: 'postgres' | 'embedded'): Promise<LedgerDb> {
  // A bounded connect: while PostgreSQL restarts, callers get an error, not a hang.
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolMax ?? 10,
    connectionTimeoutMillis: 5_000,
    ...(opts.applicationName ? { application_name: opts.applicationName } : {}),
  });
  // Without a listener an idle connection dropped by the server would crash the process.
  pool.on('error', (error) => opts.logger?.warn({ err: error }, 'idle PostgreSQL connection failed'));
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    await pool.end();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot connect to PostgreSQL at ${describeUrl(url)}: ${reason}`, { cause: error });
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind,
    prisma,
    pool,
    // A `name` makes it a prepared statement on each connection: planned once, not per call. Every
    // statement runs alone (autocommit), so one that lost a deadlock was rolled back whole and is
    // simply run again.
    query: <T>(sql: string, params?: unknown[], name?: string) =>
      retryOnConflict(
        async () => {
          // As pool.query does, but a failure to connect is marked: that statement never ran.
          const client = await pool.connect().catch((error: unknown) => {
            throw markNotSent(error);
          });
          // A connection that fails while checked out emits 'error' (the query rejects too);
          // unheard, it would be an uncaught exception.
          const onError = () => {};
          client.on('error', onError);
          try {
            const result = await client.query(name ? { name, text: sql, values: params ?? [] } : { text: sql, values: params ?? [] });
            client.release();
            return result.rows as T[];
          } catch (error) {
            client.release(error instanceof Error ? error : true);
            throw error;
          } finally {
            client.off('error', onError);
          }
        },
        (error, attempt) => opts.logger?.warn({ err: error, attempt, statement: name }, 'statement lost a deadlock or serialization conflict; running it again'),
      ),
    close: once(async () => {
      await prisma.$disconnect();
      await pool.end(); // PrismaPg leaves an external pool to its owner
    }),
  };
}

/** host:port/database of a connection URL, never its credentials. */
export function describeUrl(url: string): string {
  try {
    const { hostname, port, pathname } = new URL(url);
    return `${hostname}${port ? `:${port}` : ''}${pathname}`;
  } catch {
    return '(an unparseable URL)';
  }
}
