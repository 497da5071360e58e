// How a one-off command (`npm run seed`, `npm run db:migrate`) reaches the embedded ledger: the
// server `npm start` runs in the folder, or, when none runs, one it starts and stops itself.
import { EmbeddedLedgerNotRunningError, findEmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.ts';

export async function openEmbeddedForTool(config: { EMBEDDED_DIR: string; EMBEDDED_PORT?: number | undefined }): Promise<{ url: string; release: () => Promise<void> }> {
  try {
    return { url: await findEmbeddedPostgres(config.EMBEDDED_DIR), release: async () => {} };
  } catch (error) {
    if (!(error instanceof EmbeddedLedgerNotRunningError)) throw error;
    const server = await startEmbeddedPostgres({ dir: config.EMBEDDED_DIR, port: config.EMBEDDED_PORT });
    return { url: server.url, release: () => server.stop() };
  }
}
