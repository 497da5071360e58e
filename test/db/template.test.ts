import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger, type LedgerDb } from '../../src/db/client.ts';
import { applyMigrations, defaultMigrationsDir, readMigrations } from '../../src/db/migrate.ts';
import { ensureTemplate, openPGliteDir, templateName } from '../../src/db/template.ts';
import { Ledger } from '../../src/jobs/ledger/index.ts';

// Cleanups run last-registered first: ledgers close before their directories go.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jobgraph-template-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger whose messages the test reads. */
function recordingLogger() {
  const messages: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

async function open(cache: string, logger = recordingLogger().logger): Promise<LedgerDb> {
  const db = await openLedger({ pgliteDir: join(await tempDir(), 'pgdata'), pgliteTemplateCache: cache, logger });
  cleanups.push(() => db.close());
  return db;
}

/** Everything the migrations made, as the catalog tells it: tables, columns, indexes, constraints, types. */
async function schemaOf(db: LedgerDb) {
  return {
    columns: await db.query(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
    ),
    indexes: await db.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`),
    constraints: await db.query(
      `SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY rel, conname`,
    ),
    types: await db.query(
      `SELECT typname, array_agg(enumlabel ORDER BY enumsortorder) AS labels FROM pg_enum JOIN pg_type ON pg_type.oid = enumtypid GROUP BY typname ORDER BY typname`,
    ),
    migrations: await db.query(`SELECT migration_name, checksum, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`),
    settings: await db.query(`SELECT name, setting FROM pg_settings WHERE name IN ('server_encoding', 'lc_collate', 'lc_ctype', 'TimeZone') ORDER BY name`),
  };
}

async function writeJob(db: LedgerDb) {
  const ledger = new Ledger(db);
  const { job } = await ledger.transitions.createJob({ type: 'demo.countWords', phase: 'PLANNING', input: { text: 'a b' }, maxAttempts: 3, backend: 'INLINE' });
  expect(await ledger.queries.getJob(job.id)).toMatchObject({ id: job.id, status: 'QUEUED', type: 'demo.countWords' });
  return ledger;
}

describe('new PGlite ledgers from a template', () => {
  it('makes the template on the first new ledger; the next opens from it with the same schema and takes jobs', async () => {
    const cache = await tempDir();
    const first = recordingLogger();
    const initialised = await open(cache, first.logger);
    expect(first.messages).toContain('ledger template saved: the next new embedded ledger opens without initdb');
    expect(await readdir(cache)).toEqual([await templateName()]);

    const second = recordingLogger();
    const copied = await open(cache, second.logger);
    expect(second.messages).toContain('new embedded ledger copied from the template (no initdb)');
    expect(second.messages).not.toContain('applied database migration');

    expect(await schemaOf(copied)).toEqual(await schemaOf(initialised));
    expect((await schemaOf(copied)).migrations.map((m) => m.migration_name)).toEqual((await readMigrations()).map((m) => m.name));
    await writeJob(initialised);
    await writeJob(copied);
    // Each copy is a ledger of its own: queue names and bus channels carry its identity.
    expect(await new Ledger(copied).queries.identity()).not.toBe(await new Ledger(initialised).queries.identity());
  });

  it('migrates a copy of a template made before the latest migration', async () => {
    const cache = await tempDir();
    const older = join(await tempDir(), 'migrations');
    await cp(defaultMigrationsDir, older, { recursive: true });
    const all = await readMigrations();
    await rm(join(older, all.at(-1)!.name), { recursive: true });
    await ensureTemplate(cache, undefined, older);

    const dataDir = join(await tempDir(), 'pgdata');
    const pglite = await openPGliteDir(dataDir, { cacheDir: cache, migrationsDir: older });
    cleanups.push(() => pglite.close());
    expect(await applyMigrations(pglite)).toEqual([all.at(-1)!.name]);
    expect(await applyMigrations(pglite)).toEqual([]);
  });

  it('initialises the database as before when the template is broken, and makes it again', async () => {
    const cache = await tempDir();
    await ensureTemplate(cache);
    const template = join(cache, await templateName());
    await writeFile(join(template, 'global', 'pg_control'), 'not a control file');

    const { logger, messages } = recordingLogger();
    const db = await open(cache, logger);
    expect(messages).toContain('the ledger template is unusable: removed, initialising the database instead');
    expect(messages).toContain('ledger template saved: the next new embedded ledger opens without initdb');
    await writeJob(db);

    const again = recordingLogger();
    await writeJob(await open(cache, again.logger));
    expect(again.messages).toContain('new embedded ledger copied from the template (no initdb)');
  });

  it('ignores an unfinished template and leaves a directory that holds a database as it is', async () => {
    const cache = await tempDir();
    const unfinished = join(cache, await templateName());
    await (await PGlite.create(unfinished)).close(); // initdb'd, never marked
    const { logger, messages } = recordingLogger();
    const dataDir = join(await tempDir(), 'pgdata');
    const db = await openLedger({ pgliteDir: dataDir, pgliteTemplateCache: cache, logger });
    const ledger = await writeJob(db);
    const identity = await ledger.queries.identity();
    await db.close();
    expect(messages).toContain('no ledger template yet: initialising the database (initdb, once per PGlite version and migration set)');
    expect(messages).toContain('ledger template saved: the next new embedded ledger opens without initdb');

    const reopened = recordingLogger();
    const db2 = await openLedger({ pgliteDir: dataDir, pgliteTemplateCache: cache, logger: reopened.logger });
    cleanups.push(() => db2.close());
    expect(await new Ledger(db2).queries.identity()).toBe(identity);
    expect(reopened.messages.some((m) => m.includes('template'))).toBe(false);
  });
});
