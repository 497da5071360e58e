// The embedded ledger's PGlite, opened by the one process that may hold it: `npm start`'s ledger
// process (src/ledger-host.ts), or a process that keeps it to itself (tests, db:migrate). Apart
// from src/db/client.ts so that the ledger process loads PGlite and nothing of Prisma.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Logger } from '../lib/logger.ts';
import { once } from '../lib/once.ts';
import { DirectoryLockedError, lockDirectory } from '../lib/dir-lock.ts';
import { defaultTemplateCache, openPGliteDir, pgliteOptions } from './template.ts';

export interface EmbeddedOptions {
  logger?: Logger | undefined;
  /** false: a new directory is made by initdb, not copied from the migrated template. */
  migrate?: boolean | undefined;
  /** Where templates of new PGlite ledgers are kept; `false` initialises every new one with initdb. */
  pgliteTemplateCache?: string | false | undefined;
}

/**
 * Opens the embedded PGlite at `dir` for this process alone (a lock file beside it), a new
 * directory copied from the migrated template; `close` shuts PGlite down and lets the lock go.
 * `npm start` serves it to its API and worker processes (src/ledger-host.ts).
 */
export async function openEmbeddedPGlite(
  dir: string,
  opts: EmbeddedOptions = {},
): Promise<{ pglite: PGlite; dataDir: string; close: () => Promise<void> }> {
  const inMemory = dir.startsWith('memory://');
  const dataDir = inMemory ? dir : resolve(dir);
  let pglite: PGlite;
  let unlock = async () => {};
  try {
    if (!inMemory) {
      await mkdir(dataDir, { recursive: true });
      unlock = await lockDirectory(dataDir);
    }
    // A new directory is copied from a migrated template, so a caller that migrates by itself
    // (npm run db:migrate) gets initdb as before.
    const cacheDir = opts.migrate === false ? false : (opts.pgliteTemplateCache ?? defaultTemplateCache);
    pglite = inMemory ? await PGlite.create(dataDir, pgliteOptions) : await openPGliteDir(dataDir, { cacheDir, logger: opts.logger });
  } catch (error) {
    await unlock();
    if (error instanceof DirectoryLockedError) {
      throw new EmbeddedLedgerInUseError(
        `The embedded ledger at ${dataDir} is in use by another process (${error.message}). ` +
          'An embedded (PGlite) ledger belongs to one `npm start`: run a single one, or set DATABASE_URL ' +
          'to a PostgreSQL database to run several APIs and separate workers against one ledger.',
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot open the PGlite database at ${dataDir}: ${reason}`, { cause: error });
  }
  return {
    pglite,
    dataDir,
    close: once(async () => {
      await pglite.close();
      await unlock();
    }),
  };
}

/** A second process opened an embedded ledger directory that a live process holds. */
export class EmbeddedLedgerInUseError extends Error {
  readonly code = 'LEDGER_IN_USE';
  override name = 'EmbeddedLedgerInUseError';
}

