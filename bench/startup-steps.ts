// Run by bench/startup.ts as `node --import tsx bench/startup-steps.ts <dir>`: times the steps of
// an embedded start one by one (module loading, PGlite on a fresh directory by initdb and by the
// template, on a migrated directory, the migrations, the job system, the API) and prints them as
// one JSON line, with process.memoryUsage() after each step (MiB; PGlite's WASM memory counts
// in `external`).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '';
if (dir === '') throw new Error('usage: startup-steps.ts <empty dir> [ready-only]');
// ready-only: only what a server does (a new ledger from the template, the job system, the API),
// so that the memory of the ready server is not mixed with the other steps'.
const readyOnly = process.argv[3] === 'ready-only';
mkdirSync(dir, { recursive: true });
const steps: Record<string, number> = {};
const rss: Record<string, number> = {};
const memory: Record<string, Record<string, number>> = {};
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const memoryNow = () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const usage = process.memoryUsage();
  return {
    rss: mib(usage.rss),
    rssAnon: Math.round(kib('RssAnon') / 1024),
    rssFile: Math.round(kib('RssFile') / 1024),
    heapTotal: mib(usage.heapTotal),
    heapUsed: mib(usage.heapUsed),
    external: mib(usage.external),
    arrayBuffers: mib(usage.arrayBuffers),
  };
};
const mark = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  const value = await fn();
  steps[name] = Math.round(performance.now() - t);
  const now = memoryNow();
  memory[name] = now;
  rss[name] = now.rss;
  return value;
};
steps['process start → first line of this script'] = Math.round(performance.now());

const modules = await mark('import the app modules (tsx transpiles)', async () => ({
  pglite: await import('@electric-sql/pglite'),
  migrate: await import('../src/db/migrate.ts'),
  template: await import('../src/db/template.ts'),
  system: await import('../src/jobs/system.ts'),
  config: await import('../src/config.ts'),
  logger: await import('../src/lib/logger.ts'),
  yoga: await import('../src/api/yoga.ts'),
  server: await import('../src/api/server.ts'),
  tasks: await import('../src/tasks/registry.ts'),
  queries: await import('../src/domain/queries.ts'),
}));
const dataDir = join(dir, 'pgdata');
if (!readyOnly) await pgliteSteps();
async function pgliteSteps() {
  const initdbDir = join(dir, 'initdb');
  const fresh = await mark('PGlite.create, fresh dir (initdb, as before)', () => modules.pglite.PGlite.create(initdbDir));
  await mark('migrations, fresh database', () => modules.migrate.applyMigrations(fresh));
  await mark('PGlite close', () => fresh.close());
  // The template is made by npm install; make it here if it is missing (not timed).
  await modules.template.ensureTemplate(modules.template.defaultTemplateCache);
  const copied = await mark('new dir from the template (copy + PGlite.create)', () =>
    modules.template.openPGliteDir(dataDir, { cacheDir: modules.template.defaultTemplateCache }),
  );
  await mark('migrations check, database from the template', () => modules.migrate.applyMigrations(copied));
  await copied.close();
  const again = await mark('PGlite.create, migrated dir', () => modules.pglite.PGlite.create(dataDir, modules.template.pgliteOptions));
  await mark('migrations check, migrated database', () => modules.migrate.applyMigrations(again));
  await again.close();
}
const config = modules.config.loadConfig({ PGLITE_DIR: dataDir, REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'silent', PORT: '0' });
const logger = modules.logger.createLogger('silent');
const system = await mark(readyOnly ? 'JobSystem.start, new dir (from the template)' : 'JobSystem.start, migrated dir (PGlite again, backend probes, worker)', () => modules.system.JobSystem.start({ config, logger, registry: modules.tasks.createTaskRegistry() }));
const api = await mark('createApi (schema build) + listen', async () => {
  const http = modules.server.createHttpServer(modules.yoga.createApi(system, modules.queries.workflowReads(system.db.prisma), config, logger), system, logger);
  await http.listen(0, '127.0.0.1');
  return http;
});
// Where the RSS of a ready server goes, after a collection (a V8 heap of live objects only).
(globalThis as { gc?: () => void }).gc?.();
const pglite = system.db.pglite as unknown as { mod?: { HEAPU8?: Uint8Array } } | undefined;
const parts = { ...memoryNow(), pgliteWasmMemory: mib(pglite?.mod?.HEAPU8?.byteLength ?? NaN) };
await api.close();
await system.stop();
process.stdout.write(`steps ${JSON.stringify({ steps, rss, memory, parts })}\n`);
process.exit(0);
