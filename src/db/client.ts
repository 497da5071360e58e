// Opens the job ledger: a real PostgreSQL when DATABASE_URL is set, embedded PGlite otherwise.
// Both are handed to Prisma through a driver adapter, and both get a raw `query` on the same
// database for hot paths.
import type { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Logger } from '../lib/logger.ts';
import { once } from '../lib/once.ts';
import { applyMigrations } from './migrate.ts';
import { markNotSent, retryOnConflict } from './conflicts.ts';

export interface LedgerDb {
  /**
   * postgres: a PostgreSQL server; pglite: PGlite in this process (its only user); embedded:
   * the PGlite ledger of an `npm start`, reached through its ledger process (src/ledger-host.ts).
   */
  readonly kind: 'postgres' | 'pglite' | 'embedded';
  readonly prisma: PrismaClient;
  /** Postgres only: the pool Prisma uses (for raw hot-path SQL). */
  readonly pool?: pg.Pool;
  /** PGlite only. */
  readonly pglite?: PGlite;
  /**
   * Raw parameterised SQL ($1, $2…) on the same database, for hot paths and LISTEN-free work.
   * On PGlite it waits while a Prisma interactive transaction is open (one connection), so never
   * call it from inside `prisma.$transaction(async (tx) => …)`. A `name` (hot statements) makes it a
   * prepared statement on Postgres: one name, always the same SQL.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], name?: string): Promise<T[]>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface OpenLedgerOptions {
  /** postgres:// URL; without it the ledger is PGlite at `pgliteDir`. */
  databaseUrl?: string;
  /** Without databaseUrl: the loopback URL of `npm start`'s ledger process, which serves the PGlite at `pgliteDir`. */
  embeddedLedgerUrl?: string;
  /** PGlite data directory, created if missing; `memory://` keeps everything in memory. */
  pgliteDir: string;
  logger?: Logger;
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
  /** Postgres pool size (default 10). */
  poolMax?: number;
  /** How its connections name themselves to the server (pg_stat_activity): see application-names.ts. */
  applicationName?: string;
  /**
   * Where templates of new PGlite ledgers are kept (src/db/template.ts; default
   * node_modules/.cache/jobgraph); `false` initialises every new one with initdb.
   */
  pgliteTemplateCache?: string | false;
}

export async function openLedger(opts: OpenLedgerOptions): Promise<LedgerDb> {
  const db = opts.databaseUrl
    ? await openPostgres(opts.databaseUrl, opts, 'postgres')
    : opts.embeddedLedgerUrl
      ? await openPostgres(opts.embeddedLedgerUrl, opts, 'embedded')
      : await openPGlite(opts.pgliteDir, opts);
  try {
    if (opts.migrate ?? true) await applyMigrations(db.pool ?? db.pglite!, opts.logger);
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

/**
 * PGlite in this process. Its modules load only here: a process on PostgreSQL (every API and
 * worker of a deployment, embedded ones included) never holds PGlite's JavaScript.
 */
async function openPGlite(dir: string, opts: OpenLedgerOptions): Promise<LedgerDb> {
  const [{ openEmbeddedPGlite }, { PrismaPGlite }, { types }] = await Promise.all([
    import('./embedded.ts'),
    import('pglite-prisma-adapter'),
    import('@electric-sql/pglite'),
  ]);
  // node-postgres returns int8 (count(*), bigint columns) as a string, PGlite as a number; `query`
  // follows node-postgres on both so that callers see one behaviour. Per query, so that the Prisma
  // adapter keeps PGlite's defaults.
  const rawQueryOptions = { parsers: { [types.INT8]: (value: string) => value } };
  const { pglite, close } = await openEmbeddedPGlite(dir, opts);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    kind: 'pglite',
    prisma,
    pglite,
    query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params, rawQueryOptions)).rows,
    close: once(async () => {
      await prisma.$disconnect();
      await close();
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
