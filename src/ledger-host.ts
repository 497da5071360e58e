// The embedded ledger's own process: `npm start` without DATABASE_URL runs it, and its API and
// worker processes reach the PGlite ledger through it as a PostgreSQL server on loopback. The
// PGlite engine (WASM, one thread) runs here, never on the API's event loop.
import { loadConfig } from './config.ts';
import { API_APPLICATION_NAME } from './db/application-names.ts';
import { openEmbeddedPGlite } from './db/embedded.ts';
import { PGliteServer } from './db/pglite-server.ts';
import { createLogger } from './lib/logger.ts';
import { exitWithParent, supervised, tellParent } from './lib/supervisor.ts';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, config.LOG_FORMAT).child({ component: 'ledger-host' });
try {
  const { pglite, dataDir, close } = await openEmbeddedPGlite(config.PGLITE_DIR, { logger });
  const server = new PGliteServer({
    db: pglite,
    onError: (error) => logger.warn({ err: error }, 'a ledger client failed'),
    // The API's reads go ahead of the worker's statements: one session, and the user is waiting.
    ahead: (params) => params.application_name === API_APPLICATION_NAME,
  });
  const port = await server.listen();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await server.close();
      await close();
      logger.info('embedded ledger closed');
    })());
  // The parent stops it last (SIGTERM), once its API and worker have let go: it ignores the
  // terminal's Ctrl-C (sent to the whole process group) and ends with its parent.
  if (supervised()) {
    process.on('SIGINT', () => {});
    exitWithParent(stop, 10_000);
  }
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  logger.info({ dataDir, port }, 'embedded ledger served on loopback');
  tellParent({ type: 'ready', url: `postgres://postgres@127.0.0.1:${port}/postgres` });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal({ err: error }, message);
  tellParent({ type: 'failed', message });
  process.exit(1);
}
