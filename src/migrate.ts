// Entry point of `npm run db:migrate`: applies pending migrations to the configured ledger database
// (DATABASE_URL, or the embedded one of EMBEDDED_DIR, started for the time it takes if not running).
import { loadConfig } from './config.ts';
import { applyMigrations } from './db/migrate.ts';
import { describeUrl, openLedger } from './db/client.ts';
import { openEmbeddedForTool } from './db/embedded-tool.ts';

try {
  const config = loadConfig();
  const embedded = config.DATABASE_URL ? undefined : await openEmbeddedForTool(config);
  const url = config.DATABASE_URL ?? embedded!.url;
  try {
    const ledger = await openLedger({ databaseUrl: url, migrate: false });
    try {
      const applied = await applyMigrations(ledger.pool);
      const where = config.DATABASE_URL ? `PostgreSQL at ${describeUrl(url)}` : `the embedded ledger in ${config.EMBEDDED_DIR}`;
      console.log(
        applied.length === 0
          ? `${where}: already up to date.`
          : `${where}: applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}`).join('\n')}`,
      );
    } finally {
      await ledger.close();
    }
  } finally {
    await embedded?.release();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
