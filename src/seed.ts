// Entry point of `npm run seed`: loads the demo (a report, its data catalog, a loan dataset of
// 100,000 seeded records) into the configured ledger database. Safe to run again; resumes a
// load that stopped. Without DATABASE_URL it loads the embedded ledger of EMBEDDED_DIR: the one
// `npm start` runs, or one started for the time it takes.
import { loadConfig } from './config.ts';
import { openLedger } from './db/client.ts';
import { openEmbeddedForTool } from './db/embedded-tool.ts';
import { DEMO_RECORDS, seedDemo } from './domain/seed.ts';

const records = Number(process.argv[2] ?? DEMO_RECORDS);
try {
  const config = loadConfig();
  const embedded = config.DATABASE_URL ? undefined : await openEmbeddedForTool(config);
  const ledger = await openLedger({ databaseUrl: config.DATABASE_URL ?? embedded!.url, embedded: !!embedded });
  try {
    let shown = -1;
    const result = await seedDemo(
      ledger.prisma,
      (text, params) => ledger.query(text, params),
      {
        signal: new AbortController().signal,
        progress: async (percent, message) => {
          if (Math.floor(percent / 10) === shown) return;
          shown = Math.floor(percent / 10);
          console.log(`${Math.round(percent)}%  ${message}`);
        },
      },
      records,
    );
    console.log(`demo loaded: report ${result.reportId}, dataset ${result.datasetId} (${result.records} records), ${result.dataElements} data elements`);
  } finally {
    await ledger.close();
    await embedded?.release();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
