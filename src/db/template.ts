// A fresh embedded ledger is not made by initdb (about 2.7 s, and a second PGlite instance's
// memory) but copied from a template: a PGlite data directory initialised by PGlite, migrated,
// and shut down cleanly, kept once per PGlite version and migration set under
// node_modules/.cache/jobgraph. The first fresh start without one makes it (initdb as before,
// migrations, a clean close, a copy); `npm install` makes it ahead (scripts/pglite-template.ts).
// The copy holds the schema and nothing else: no LedgerIdentity row, no job. Migrations still run
// on every open, so a template behind the migrations is migrated like any database.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../lib/logger.ts';
import { applyMigrations, defaultMigrationsDir, readMigrations } from './migrate.ts';

/** Where templates live unless told otherwise: beside the packages they depend on. */
export const defaultTemplateCache = fileURLToPath(new URL('../../node_modules/.cache/jobgraph', import.meta.url));

/**
 * PGlite as the ledger runs it. PostgreSQL's default shared_buffers (128 MB) lives in PGlite's
 * WASM memory and is all touched at start: about 200 MiB of RSS for a cache of pages that PGlite
 * reads from the OS page cache anyway. 32 MB holds the ledger's hot tables.
 */
export const pgliteOptions = { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'] };

/** Written into a template last: a directory without it is an unfinished copy. */
const MARKER = 'jobgraph-template.json';

export interface TemplateOptions {
  /** Directory holding templates; `false` opens every fresh directory with initdb. */
  cacheDir: string | false;
  logger?: Logger | undefined;
  migrationsDir?: string;
}

/** PGlite's version, read from its package.json (its exports do not include the file). */
export function pgliteVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  while (basename(dir) !== 'pglite') dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The template's name: PGlite's version and a hash of the migrations (names and checksums). */
export async function templateName(migrationsDir = defaultMigrationsDir): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await readMigrations(migrationsDir)) hash.update(`${migration.name}\0${migration.checksum}\n`);
  return `pglite-${pgliteVersion()}-${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Opens PGlite on `dataDir` (the caller holds its lock). An empty or missing directory is filled
 * from the template when there is one; when there is none, or it fails to open, it is initialised
 * as before and, once migrated, becomes the template. Anything else opens as it is.
 */
export async function openPGliteDir(dataDir: string, opts: TemplateOptions): Promise<PGlite> {
  const { cacheDir, logger } = opts;
  if (cacheDir === false || !(await isEmptyDir(dataDir))) return PGlite.create(dataDir, pgliteOptions);
  const migrationsDir = opts.migrationsDir ?? defaultMigrationsDir;
  const template = join(cacheDir, await templateName(migrationsDir));
  if (await isTemplate(template)) {
    try {
      const started = performance.now();
      await copyInto(template, dataDir);
      const pglite = await PGlite.create(dataDir, pgliteOptions);
      logger?.info({ template, ms: Math.round(performance.now() - started) }, 'new embedded ledger copied from the template (no initdb)');
      return pglite;
    } catch (error) {
      logger?.warn({ err: error, template }, 'the ledger template is unusable: removed, initialising the database instead');
      await rm(template, { recursive: true, force: true });
      await emptyDir(dataDir);
    }
  } else {
    logger?.info({ template }, 'no ledger template yet: initialising the database (initdb, once per PGlite version and migration set)');
  }
  await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir, pgliteOptions);
  // Migrated and shut down cleanly, the directory is what every fresh start needs: keep a copy.
  try {
    await applyMigrations(pglite, logger, migrationsDir);
  } finally {
    await pglite.close();
  }
  try {
    await saveTemplate(dataDir, template);
    logger?.info({ template }, 'ledger template saved: the next new embedded ledger opens without initdb');
  } catch (error) {
    logger?.warn({ err: error, template }, 'could not save the ledger template (the next new ledger runs initdb too)');
  }
  return PGlite.create(dataDir, pgliteOptions);
}

/** Makes the template for the current PGlite and migrations in `cacheDir` if missing; its path. */
export async function ensureTemplate(cacheDir: string, logger?: Logger, migrationsDir = defaultMigrationsDir): Promise<string> {
  const template = join(cacheDir, await templateName(migrationsDir));
  if (await isTemplate(template)) return template;
  const work = join(cacheDir, `.build-${process.pid}-${Date.now()}`);
  try {
    const pglite = await openPGliteDir(join(work, 'pgdata'), { cacheDir, logger, migrationsDir });
    await pglite.close();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (!(await isTemplate(template))) throw new Error(`the ledger template ${template} was not saved`);
  return template;
}

async function isTemplate(dir: string): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as { name?: string };
    return marker.name === basename(dir) && (await stat(join(dir, 'PG_VERSION'))).isFile();
  } catch {
    return false;
  }
}

/**
 * Copies a closed, migrated data directory to `template`: into a directory of this process's own,
 * checked for data, marked, then renamed into place, so that a reader sees a whole template or
 * none. Older templates (other PGlite versions or migration sets) are removed.
 */
async function saveTemplate(dataDir: string, template: string): Promise<void> {
  const cacheDir = dirname(template);
  await mkdir(cacheDir, { recursive: true });
  const work = join(cacheDir, `.${basename(template)}-${process.pid}-${Date.now()}`);
  try {
    await cp(dataDir, work, { recursive: true });
    await assertSchemaOnly(work);
    await writeFile(join(work, MARKER), JSON.stringify({ name: basename(template), madeAt: new Date().toISOString() }));
    try {
      await rename(work, template);
    } catch {
      // Another process saved the same template first (theirs is as good as ours), or one died
      // while saving it and left an unmarked directory: that one goes.
      if (!(await isTemplate(template))) {
        await rm(template, { recursive: true, force: true });
        await rename(work, template);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith('pglite-') && entry !== basename(template)) await rm(join(cacheDir, entry), { recursive: true, force: true });
  }
}

/** A template holds the schema only: a ledger identity or a job in it would be every copy's. */
async function assertSchemaOnly(dir: string): Promise<void> {
  const pglite = await PGlite.create(dir, pgliteOptions);
  try {
    const { rows } = await pglite.query<{ identities: number; jobs: number }>(
      `SELECT (SELECT count(*)::int FROM "LedgerIdentity") AS identities, (SELECT count(*)::int FROM "Job") AS jobs`,
    );
    if (rows[0]?.identities !== 0 || rows[0]?.jobs !== 0) throw new Error(`not a bare schema: ${JSON.stringify(rows[0])}`);
  } finally {
    await pglite.close();
  }
}

/** Copies the template's files (not its marker) into `dataDir` through a sibling directory and one rename. */
async function copyInto(template: string, dataDir: string): Promise<void> {
  const work = `${dataDir}.copying-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  try {
    await cp(template, work, { recursive: true, filter: (source) => basename(source) !== MARKER });
    await rm(dataDir, { recursive: true, force: true }); // empty (checked), or missing
    await rename(work, dataDir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
}

/** Removes what a failed copy left in `dir` (ours: the caller holds its lock and found it empty). */
async function emptyDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
