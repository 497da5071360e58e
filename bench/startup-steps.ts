// Run by bench/startup.ts as `node --import tsx bench/startup-steps.ts <dir>`: times the steps of
// an embedded start one by one (module loading, PGlite on a fresh and on a migrated directory,
// the migrations, the job system, the API) and prints them as one JSON line.
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: startup-steps.ts <empty dir>');
const steps: Record<string, number> = {};
const rss: Record<string, number> = {};
const mark = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  const value = await fn();
  steps[name] = Math.round(performance.now() - t);
  rss[name] = Math.round(process.memoryUsage().rss / 2 ** 20);
  return value;
};
steps['process start → first line of this script'] = Math.round(performance.now());

const modules = await mark('import the app modules (tsx transpiles)', async () => ({
  pglite: await import('@electric-sql/pglite'),
  migrate: await import('../src/db/migrate.ts'),
  system: await import('../src/jobs/system.ts'),
  config: await import('../src/config.ts'),
  logger: await import('../src/lib/logger.ts'),
  yoga: await import('../src/api/yoga.ts'),
  server: await import('../src/api/server.ts'),
  tasks: await import('../src/tasks/registry.ts'),
  queries: await import('../src/domain/queries.ts'),
}));
const dataDir = join(dir, 'pgdata');
const fresh = await mark('PGlite.create, fresh dir (initdb)', () => modules.pglite.PGlite.create(dataDir));
await mark('migrations, fresh database', () => modules.migrate.applyMigrations(fresh));
await mark('PGlite close', () => fresh.close());
const again = await mark('PGlite.create, migrated dir', () => modules.pglite.PGlite.create(dataDir));
await mark('migrations check, migrated database', () => modules.migrate.applyMigrations(again));
await again.close();
const config = modules.config.loadConfig({ PGLITE_DIR: dataDir, REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'silent', PORT: '0' });
const logger = modules.logger.createLogger('silent');
const system = await mark('JobSystem.start, migrated dir (PGlite again, backend probes, worker)', () => modules.system.JobSystem.start({ config, logger, registry: modules.tasks.createTaskRegistry() }));
const api = await mark('createApi (schema build) + listen', async () => {
  const http = modules.server.createHttpServer(modules.yoga.createApi(system, modules.queries.workflowReads(system.db.prisma), config, logger), system, logger);
  await http.listen(0, '127.0.0.1');
  return http;
});
await api.close();
await system.stop();
process.stdout.write(`steps ${JSON.stringify({ steps, rss })}\n`);
process.exit(0);
