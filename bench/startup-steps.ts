// Run by bench/startup.ts as `node --import tsx bench/startup-steps.ts <dir>`: times the steps of
// an embedded start one by one (module loading; the embedded PostgreSQL on a fresh folder, a copy
// of the migrated template; stopped and started again on that folder; taken over while it runs,
// as `npm start` does with a server a killed start left; the job system; the API) and prints them
// as one JSON line, with process.memoryUsage() after each step (MiB; the server's own processes
// apart, as embeddedServerPss).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmbeddedServer } from '../src/db/embedded-postgres.ts';

const dir = process.argv[2] ?? '';
if (dir === '') throw new Error('usage: startup-steps.ts <empty dir> [ready-only]');
// ready-only: only what a first start does (a new folder from the template, the job system, the
// API), so that the memory of the ready server is not mixed with the other steps'.
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

/** PSS (shared memory counted once) of the server's postmaster and its children, MiB. */
function serverPssMiB(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return Math.round(kib / 1024);
}

steps['process start → first line of this script'] = Math.round(performance.now());

const modules = await mark('import the app modules (tsx transpiles)', async () => ({
  embedded: await import('../src/db/embedded-postgres.ts'),
  system: await import('../src/jobs/system.ts'),
  config: await import('../src/config.ts'),
  logger: await import('../src/lib/logger.ts'),
  yoga: await import('../src/api/yoga.ts'),
  server: await import('../src/api/server.ts'),
  tasks: await import('../src/tasks/registry.ts'),
  queries: await import('../src/domain/queries.ts'),
}));
// The template is made by npm install; made here if it is missing (not timed).
await modules.embedded.ensureTemplate();
const servers: EmbeddedServer[] = [];
let parts: Record<string, number>;
const startServer = async () => {
  const server = await modules.embedded.startEmbeddedPostgres({ dir });
  servers.push(server);
  return server;
};
try {
  let server = await mark('embedded server, fresh folder (template copy + start)', startServer);
  if (!readyOnly) {
    await mark('embedded server, stop', () => server.stop());
    server = await mark('embedded server, existing folder (start again)', startServer);
    await mark('embedded server, take over the running one', startServer);
  }
  const config = modules.config.loadConfig({ EMBEDDED_LEDGER_URL: server.url, EMBEDDED_DIR: dir, REDIS_URL: process.env.REDIS_URL, LOG_LEVEL: 'silent', PORT: '0' });
  const logger = modules.logger.createLogger('silent');
  const system = await mark('JobSystem.start (ledger open, backend probes: pg-boss on the server, worker)', () =>
    modules.system.JobSystem.start({ config, logger, registry: modules.tasks.createTaskRegistry() }),
  );
  const api = await mark('createApi (schema build) + listen', async () => {
    const http = modules.server.createHttpServer(modules.yoga.createApi(system, modules.queries.workflowReads(system.db.prisma), config, logger), system, logger);
    await http.listen(0, '127.0.0.1');
    return http;
  });
  // Where the memory of a ready start goes, after a collection (a V8 heap of live objects only);
  // the server's processes beside this one's.
  (globalThis as { gc?: () => void }).gc?.();
  parts = { ...memoryNow(), embeddedServerPss: serverPssMiB(server.dataDir) };
  await api.close();
  await system.stop();
} finally {
  // The server runs detached: it would outlive this process (and startup.ts ends this one once
  // the line below is out, so that comes last).
  for (const server of servers) await server.stop();
}
process.stdout.write(`steps ${JSON.stringify({ steps, rss, memory, parts })}\n`);
process.exit(0);
