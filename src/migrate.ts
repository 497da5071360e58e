// Entry point of `npm run db:migrate`: applies pending migrations to the configured ledger database.
import { loadConfig } from './config.ts';
import { applyMigrations } from './db/migrate.ts';
import { describeUrl, openLedger } from './db/client.ts';

try {
  const config = loadConfig();
  const ledger = await openLedger({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, migrate: false });
  try {
    const applied = await applyMigrations(ledger.pool ?? ledger.pglite!);
    const where = config.DATABASE_URL
      ? `PostgreSQL at ${describeUrl(config.DATABASE_URL)}`
      : `PGlite at ${config.PGLITE_DIR}`;
    console.log(
      applied.length === 0
        ? `${where}: already up to date.`
        : `${where}: applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join('\n')}`,
    );
  } finally {
    await ledger.close();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
