// What each module costs a process, and which of them the API and the worker load. First every
// heavy module alone: a fresh `node` child imports only it and reports its RSS once imported, over
// that of the same child importing nothing (an empty Node), how long the import took and the CPU
// time it used (a busy machine moves the first more than the second); median (range) of
// BENCH_MODULE_COST_RUNS (3). Then each process's import set, imported the same way:
// the API's, the modules src/main.ts imports (statically, and the ones it imports at its start),
// and the worker's, src/worker.ts's imports (read from the entry files, so the sets follow them).
// A child given `--import` of a module.registerHooks load hook records every module it loads, ESM
// and CommonJS alike: which of the heavy modules each set loads at import time. Then the processes
// started for real, `node src/worker.ts` and `node src/main.ts` (WORKER_IN_PROCESS=false) on a
// bench database, per backend and the bus EVENT_BUS=auto pairs with it: what each has loaded once
// started, and its RSS then (RUNS starts each; BENCH_MODULE_COST_BACKENDS, `bullmq,pgboss,rabbitmq`;
// `none` skips them). BENCH_AB=<checkout> (another checkout, e.g. the commit before, with
// node_modules and src/generated linked or copied) measures its sets and starts beside this one's,
// alternating. Alone: `npx tsx bench/module-cost.ts`; in the suite: `npm run bench -- module-cost`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createBenchDatabase,
  envInt,
  fmt,
  freePort,
  machineInfo,
  median,
  obliterateQueue,
  printMachine,
  randomName,
  REDIS_URL,
  ROOT,
  runMain,
  track,
  until,
  table,
  writeResult,
  type BenchDatabase,
} from './lib.ts';

const RUNS = envInt('BENCH_MODULE_COST_RUNS', 3);
const BACKENDS = (process.env.BENCH_MODULE_COST_BACKENDS ?? 'bullmq,pgboss,rabbitmq').split(',').filter((b) => b && b !== 'none');
const AB = process.env.BENCH_AB || undefined;

/** The heavy modules: a name to show, what to import, and how to tell it among a process's loaded URLs. */
interface Heavy {
  name: string;
  specifier: string;
  loaded: (url: string) => boolean;
}
const inPackage = (pkg: string) => (url: string) => url.includes(`/node_modules/${pkg}/`);
const pkg = (name: string): Heavy => ({ name, specifier: name, loaded: inPackage(name) });
const GENERATED_CLIENT = 'src/generated/prisma/client.ts';
const HEAVY: Heavy[] = [
  pkg('bullmq'),
  pkg('ioredis'),
  pkg('amqplib'),
  pkg('pg-boss'),
  pkg('@graphql-yoga/redis-event-target'),
  pkg('@opentelemetry/sdk-trace'),
  pkg('@opentelemetry/exporter-trace-otlp-http'),
  pkg('pino-pretty'),
  pkg('prom-client'),
  pkg('graphql-yoga'),
  pkg('@pothos/core'),
  // The package's own entry wants a client generated into node_modules; jobgraph's imports its runtime.
  { name: '@prisma/client (runtime/client)', specifier: '@prisma/client/runtime/client', loaded: inPackage('@prisma/client') },
  { name: `generated Prisma client (${GENERATED_CLIENT})`, specifier: `./${GENERATED_CLIENT}`, loaded: (url) => url.endsWith(`/${GENERATED_CLIENT}`) },
  pkg('pg'),
  pkg('zod'),
  pkg('croner'),
];

/**
 * What a child runs: imports `specifiers` (together, as main.ts imports its modules), prints its
 * RSS before and after and the time the imports took, and exits (a module may leave a handle open).
 * Bare and `./` specifiers resolve from the child's cwd, the checkout measured.
 */
const childScript = (specifiers: string[]) => `
  const before = process.memoryUsage.rss();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(${JSON.stringify(specifiers)}.map((s) => import(s)));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, before, rss: process.memoryUsage.rss() }) + '\\n');
  process.exit(0);
`;

/** Records the URL of every module loaded (import and require alike), written to $MODULE_COST_OUT at exit and on SIGUSR2. */
const HOOK = `
  import { registerHooks } from 'node:module';
  import { renameSync, writeFileSync } from 'node:fs';
  const seen = new Set();
  registerHooks({ load(url, context, next) { seen.add(url); return next(url, context); } });
  const out = process.env.MODULE_COST_OUT;
  const write = () => (writeFileSync(out + '.part', JSON.stringify([...seen])), renameSync(out + '.part', out));
  process.on('exit', write);
  process.on('SIGUSR2', write);
`;
const HOOK_IMPORT = `--import=data:text/javascript,${encodeURIComponent(HOOK)}`;

interface Sample {
  ms: number;
  /** CPU time of the import (user + system, every thread), ms: less moved than `ms` by a busy machine. */
  cpuMs: number;
  /** RSS once imported, bytes. */
  rss: number;
  /** RSS when the child's script began, bytes. */
  before: number;
}

function runChild(root: string, specifiers: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', childScript(specifiers)], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) return reject(new Error(`importing ${specifiers.join(', ')} in ${root} failed (exit ${code}): ${err.trim().slice(-800)}`));
      resolve(JSON.parse(line) as Sample);
    });
  });
}

/** The URLs of every module a child importing `specifiers` loads. */
async function loadedBy(root: string, specifiers: string[]): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'module-cost-'));
  try {
    const out = join(dir, 'loaded.json');
    await runChild(root, specifiers, { MODULE_COST_OUT: out }, [HOOK_IMPORT]);
    return JSON.parse(await readFile(out, 'utf8')) as string[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MiB = (bytes: number) => bytes / 2 ** 20;
/** `median (min–max)` */
const spread = (values: number[], digits = 1) => `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

interface Cost {
  rssMiB: number[];
  ms: number[];
  cpuMs: number[];
}

/** RUNS children importing `specifiers`: RSS over `emptyRss` (MiB), import ms and CPU ms of each. */
async function cost(root: string, specifiers: string[], emptyRss: number): Promise<Cost> {
  const samples: Sample[] = [];
  for (let run = 0; run < RUNS; run++) samples.push(await runChild(root, specifiers));
  return costOf(samples, emptyRss);
}

const costOf = (samples: Sample[], emptyRss: number): Cost => ({ rssMiB: samples.map((s) => MiB(s.rss - emptyRss)), ms: samples.map((s) => s.ms), cpuMs: samples.map((s) => s.cpuMs) });

/** The modules of src/ an entry file loads at its start: its static value imports and its `import('./…')`s. */
async function importSet(root: string, entry: string): Promise<string[]> {
  const text = await readFile(join(root, entry), 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s*'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/gm)) {
    found.add(new URL(m[1] ?? m[2]!, pathToFileURL(join(root, entry))).href);
  }
  return [...found];
}

const shortName = (root: string, url: string) => url.replace(pathToFileURL(root).href.replace(/\/?$/, '/'), '');

/** A process's set: its cost, and which heavy modules (and how many modules in all) it loads. */
interface SetResult {
  process: string;
  code: string;
  modules: string[];
  cost: Cost;
  loadedHeavy: string[];
  loadedCount: number;
  packages: number;
}

/**
 * The import sets of `entries` in each checkout of `codes`: what each loads, then RUNS rounds of
 * their cost, the checkouts alternating within a round (the machine's drift falls on both alike).
 */
async function measureSets(codes: [string, string][], entries: [string, string][], emptyRss: number): Promise<SetResult[]> {
  const cases = codes.flatMap(([code, root]) => entries.map(([processName, entry]) => ({ code, root, processName, entry })));
  const prepared = await Promise.all(cases.map(async (c) => ({ ...c, specifiers: await importSet(c.root, c.entry), samples: [] as Sample[] })));
  const results: SetResult[] = [];
  for (const c of prepared) {
    const urls = await loadedBy(c.root, c.specifiers);
    const packages = new Set(urls.map((u) => /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
    results.push({
      process: c.processName,
      code: c.code,
      modules: c.specifiers.map((s) => shortName(c.root, s)),
      cost: { rssMiB: [], ms: [], cpuMs: [] },
      loadedHeavy: HEAVY.filter((h) => urls.some(h.loaded)).map((h) => h.name),
      loadedCount: urls.length,
      packages: packages.size,
    });
  }
  for (let run = 0; run < RUNS; run++) {
    for (const c of run % 2 ? [...prepared].reverse() : prepared) c.samples.push(await runChild(c.root, c.specifiers));
  }
  prepared.forEach((c, i) => (results[i]!.cost = costOf(c.samples, emptyRss)));
  return results;
}

// ── the processes, started ──────────────────────────────────────────────────

interface Started {
  process: 'API' | 'worker';
  code: string;
  backend: string;
  bus?: string;
  rssMiB?: number;
  loadedHeavy: string[];
  loadedCount?: number;
  /** Why it did not start (a checkout whose processes need what this machine lacks). */
  error?: string;
}

/**
 * Starts `node src/<entry>` of the checkout at `root` with the load hook on `db`,
 * QUEUE_BACKEND=`backend`, EVENT_BUS=auto; waits for its "started" line (the API: "ready"), reads
 * its RSS and what it has loaded, and stops it.
 */
async function startedProcess(kind: 'API' | 'worker', code: string, root: string, backend: string, db: BenchDatabase, queueName: string): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'module-cost-'));
  const out = join(dir, 'loaded.json');
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.METRICS_PORT;
  Object.assign(env, {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_BACKEND: backend,
    EVENT_BUS: 'auto',
    QUEUE_NAME: queueName,
    PGBOSS_SCHEMA: randomName('bench_pgboss'),
    WORKER_IN_PROCESS: 'false',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    MODULE_COST_OUT: out,
    ...(kind === 'API' ? { PORT: String(await freePort()) } : {}),
  });
  const entry = join(root, kind === 'API' ? 'src/main.ts' : 'src/worker.ts');
  const child = track(spawn(process.execPath, [HOOK_IMPORT, entry], { cwd: root, env, stdio: ['pipe', 'pipe', 'inherit'] }));
  try {
    await child.waitFor(kind === 'API' ? /jobgraph API ready/ : /"msg":"jobgraph started"/, 60_000, `${kind} on ${backend} to start`);
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const rssMiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
    // Asked for while it runs: a process whose stop outlasts the grace is killed, and writes nothing at exit.
    process.kill(child.pid, 'SIGUSR2');
    await until(() => existsSync(out), 10_000, `${kind} on ${backend} to write what it loaded`, 20);
    const urls = JSON.parse(await readFile(out, 'utf8')) as string[];
    const bus = child.lines.map((l) => /"eventBus":"(\w+)"/.exec(l)?.[1]).find(Boolean);
    return { process: kind, code, backend, ...(bus ? { bus } : {}), rssMiB, loadedHeavy: HEAVY.filter((h) => urls.some(h.loaded)).map((h) => h.name), loadedCount: urls.length };
  } catch (error) {
    return { process: kind, code, backend, loadedHeavy: [], error: error instanceof Error ? error.message : String(error) };
  } finally {
    await child.stop(5_000).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

runMain(async () => {
  printMachine(await machineInfo());
  const codes: [string, string][] = [['this', ROOT]];
  if (AB) codes.push(['before', AB]);
  console.log(`command: npx tsx bench/module-cost.ts (BENCH_MODULE_COST_RUNS=${RUNS}${AB ? `, BENCH_AB=${AB}` : ''})\n`);

  // An empty Node: the same child, importing nothing.
  const empty: Sample[] = [];
  for (let run = 0; run < RUNS; run++) empty.push(await runChild(ROOT, []));
  const emptyRss = median(empty.map((s) => s.rss));
  console.log(`empty node: RSS ${spread(empty.map((s) => MiB(s.rss)))} MiB\n`);

  const modules: { name: string; cost: Cost }[] = [];
  for (const heavy of HEAVY) modules.push({ name: heavy.name, cost: await cost(ROOT, [heavy.specifier], emptyRss) });

  const sets = await measureSets(
    codes,
    [
      ['API (src/main.ts)', 'src/main.ts'],
      ['worker (src/worker.ts)', 'src/worker.ts'],
    ],
    emptyRss,
  );

  const started: Started[] = [];
  if (BACKENDS.length) {
    const db = await createBenchDatabase();
    try {
      for (const backend of BACKENDS) {
        const queueName = randomName('bench_modcost');
        try {
          for (let run = 0; run < RUNS; run++) {
            for (const [code, root] of run % 2 ? [...codes].reverse() : codes) {
              for (const kind of ['worker', 'API'] as const) started.push(await startedProcess(kind, code, root, backend, db, queueName));
            }
          }
        } finally {
          if (backend === 'bullmq') await obliterateQueue(queueName, 'jobgraph').catch(() => {});
        }
      }
    } finally {
      await db.drop();
    }
  }

  const loadedIn = (name: string, code: string, processName: string) => sets.find((s) => s.code === code && s.process === processName)!.loadedHeavy.includes(name);
  const setNames = [...new Set(sets.map((s) => s.process))];
  console.log(`\nEach module alone in a fresh node: RSS over an empty node (MiB), import time and its CPU time (ms), median (range) of ${RUNS}; loaded at import time by\n`);
  console.log(
    table(
      ['module', 'RSS Δ MiB', 'import ms', 'CPU ms', ...codes.flatMap(([code]) => setNames.map((p) => `${p.split(' ')[0]} (${code})`))],
      modules.map((m) => [m.name, spread(m.cost.rssMiB), spread(m.cost.ms, 0), spread(m.cost.cpuMs, 0), ...codes.flatMap(([code]) => setNames.map((p) => (loadedIn(m.name, code, p) ? 'yes' : '—')))]),
    ),
  );
  console.log(`\nEach process's import set, RSS over an empty node (MiB), import time and its CPU time (ms), median (range) of ${RUNS}\n`);
  console.log(
    table(
      ['process', 'code', 'RSS Δ MiB', 'import ms', 'CPU ms', 'modules loaded', 'packages', 'heavy modules loaded'],
      sets.map((s) => [s.process, s.code, spread(s.cost.rssMiB), spread(s.cost.ms, 0), spread(s.cost.cpuMs, 0), s.loadedCount, s.packages, s.loadedHeavy.join(', ')]),
    ),
  );
  for (const s of sets.filter((x) => x.code === 'this')) console.log(`${s.process}: imports ${s.modules.join(', ')}`);
  if (started.length) {
    console.log(`\nThe processes started (node src/worker.ts, node src/main.ts with WORKER_IN_PROCESS=false), EVENT_BUS=auto: RSS once started, median (range) of ${RUNS}, and the heavy modules loaded by then\n`);
    console.log(
      table(
        ['process', 'QUEUE_BACKEND', 'bus', 'code', 'RSS MiB', 'modules loaded', 'heavy modules loaded'],
        BACKENDS.flatMap((backend) =>
          (['worker', 'API'] as const).flatMap((kind) =>
            codes.map(([code]) => {
              const runs = started.filter((s) => s.backend === backend && s.process === kind && s.code === code);
              const ok = runs.filter((s) => !s.error);
              const first = ok[0];
              const failed = runs.length - ok.length;
              return [
                kind,
                backend,
                first?.bus,
                code,
                ok.length ? spread(ok.map((s) => s.rssMiB!)) : undefined,
                first?.loadedCount,
                [first?.loadedHeavy.join(', '), failed ? `${failed} of ${runs.length} did not start: ${runs.find((s) => s.error)!.error}` : ''].filter(Boolean).join('; '),
              ];
            }),
          ),
        ),
      ),
    );
  }
  await writeResult('module-cost', { runs: RUNS, emptyRssMiB: empty.map((s) => MiB(s.rss)), modules, sets, started });
});

