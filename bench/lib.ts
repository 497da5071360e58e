// Shared helpers of the benchmarks: the machine, percentiles, tables, result files, a database of
// the bench's own, child processes, and counters of SQL statements and Redis commands.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, get, request } from 'node:http';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { findEmbeddedPostgres, startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { urlFor, withAdmin } from '../test/helpers/database.ts';
export { withAdmin };
import { withTimeout } from '../src/lib/timeouts.ts';
import { counters } from './counters.ts';

// Shared with the tests rather than written twice.
export { freePort } from '../test/helpers/ports.ts';
export { withTimeout };

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN_DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
};

export const randomName = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of this machine. */
export const wallNow = () => performance.timeOrigin + performance.now();

// ── the machine ──────────────────────────────────────────────────────────────

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  memTotalMiB: number;
  memFreeMiB: number;
  loadavg: number[];
  redis: string;
  postgres: string;
  git: string;
  at: string;
}

export async function machineInfo(): Promise<MachineInfo> {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '?';
    }
  };
  let redis = '?';
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    redis = /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?';
  } catch {
    /* not reachable: reported as ? */
  } finally {
    r.disconnect();
  }
  let postgres = '?';
  try {
    postgres = await withAdmin(async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version);
  } catch {
    /* not reachable */
  }
  const dirty = sh('git', ['status', '--porcelain', '--', 'src']) ? ' (src/ has uncommitted changes)' : '';
  return {
    nproc: Number(sh('nproc', [])) || cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    node: process.version,
    memTotalMiB: Math.round(totalmem() / 2 ** 20),
    memFreeMiB: Math.round(freemem() / 2 ** 20),
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    redis,
    postgres,
    git: `${sh('git', ['rev-parse', '--short', 'HEAD'])}${dirty}`,
    at: new Date().toISOString(),
  };
}

export function printMachine(m: MachineInfo): void {
  console.log(
    `machine: nproc=${m.nproc} cpu="${m.cpuModel}" node=${m.node} mem=${m.memTotalMiB} MiB (free ${m.memFreeMiB}) ` +
      `loadavg=${m.loadavg.join('/')} redis=${m.redis} postgres=${m.postgres} git=${m.git}`,
  );
}

// ── statistics and output ────────────────────────────────────────────────────

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles. */
export function summarize(values: number[]): Summary {
  if (values.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return {
    n: sorted.length,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    min: sorted[0]!,
    max: sorted.at(-1)!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

export const median = (values: number[]) => summarize(values).p50;

export function fmt(value: number | string | undefined | null, digits = 1): string {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return '—';
  if (Number.isInteger(value) || Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

/** A Markdown table, so the output can go into BENCHMARKS.md as it is. */
export function table(headers: string[], rows: (string | number | undefined | null)[][]): string {
  const cells = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? fmt(cell) : (cell ?? '—'))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => String(r[i] ?? '').length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.map((r) => line(r.map(String)))].join('\n');
}

export const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

export async function writeResult(name: string, data: unknown): Promise<string> {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
  const file = `${dir}${name}-${stamp}.json`;
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`results: bench/results/${name}-${stamp}.json`);
  return file;
}

// ── a database of the bench's own ────────────────────────────────────────────

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** `jobgraph_bench_<random>`, migrated; drop() disconnects everyone and drops it (idempotent). */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = randomName('jobgraph_bench');
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE template0`));
  const url = urlFor(name);
  let dropped: Promise<void> | undefined;
  const db: BenchDatabase = {
    name,
    url,
    drop: () =>
      (dropped ??= withAdmin(async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      })),
  };
  try {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await applyMigrations(client);
    } finally {
      await client.end();
    }
  } catch (error) {
    await db.drop().catch(() => {});
    throw error;
  }
  return db;
}

/** Obliterates a BullMQ queue (all its keys) on Redis. */
/**
 * Fills a migrated ledger with `n` finished jobs (COMPLETED, 3 events each, created over the last
 * day), their tallies as the migration writes them, then VACUUM ANALYZE: a ledger with history, as
 * a deployment has after weeks. Returns how long it took, in ms.
 */
export async function preloadHistory(url: string, n: number, opts: { daysAgo?: number; chunk?: number } = {}): Promise<number> {
  const { daysAgo = 1, chunk = 100_000 } = opts;
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let from = 0; from < n; from += chunk) {
      const count = Math.min(chunk, n - from);
      await client.query(
        `WITH made AS (
           INSERT INTO "Job" (id, type, phase, status, input, result, attempt, "maxAttempts", backend, "createdAt", "startedAt", "finishedAt", "lastSeq")
           SELECT gen_random_uuid(), 'bench.history', 'TEST_EXECUTION', 'COMPLETED', '{"n":1}', '{"ok":true}', 1, 4, 'BULLMQ',
                  now() - $3 * interval '1 day' + g * interval '50 ms', now() - $3 * interval '1 day' + g * interval '50 ms' + interval '5 ms',
                  now() - $3 * interval '1 day' + g * interval '50 ms' + interval '10 ms', 3
           FROM generate_series($1::int, $2::int) g
           RETURNING id, "createdAt")
         INSERT INTO "JobEvent" ("jobId", seq, at, kind, status, progress)
         SELECT id, seq, "createdAt", 'STATUS', (ARRAY['QUEUED', 'RUNNING', 'COMPLETED'])[seq]::"JobStatus", CASE WHEN seq = 3 THEN 100 ELSE 0 END
         FROM made CROSS JOIN generate_series(1, 3) seq`,
        [from + 1, from + count, daysAgo],
      );
    }
    await client.query(
      `INSERT INTO "JobTally" ("bucket", "type", "status", "shard", "count", "ended", "durationMs")
       VALUES (date_trunc('day', now() - $2 * interval '1 day'), 'bench.history', 'COMPLETED', -1, $1::int, $1::int, $1::float8 * 5)
       ON CONFLICT ("bucket", "type", "status", "shard") DO UPDATE SET "count" = "JobTally"."count" + excluded."count", "ended" = "JobTally"."ended" + excluded."ended"`,
      [n, daysAgo],
    );
    await client.query('VACUUM ANALYZE "Job"');
    await client.query('VACUUM ANALYZE "JobEvent"');
    // Written out now: otherwise the checkpoint after the load (hundreds of MB of WAL) lands in the
    // first runs measured, and with it the writing of every page the load and the vacuum dirtied.
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
  return performance.now() - started;
}

export async function obliterateQueue(name: string, prefix: string): Promise<void> {
  const { Queue } = await import('bullmq');
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const queue = new Queue(name, { connection, prefix });
  try {
    await withTimeout(queue.obliterate({ force: true }), 10_000, `obliterate ${prefix}:${name}`);
    // A job system scopes QUEUE_NAME to its ledger (`<name>.<ledger id>`): those keys too.
    let cursor = '0';
    do {
      const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:${name}.*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await connection.del(...keys);
    } while (cursor !== '0');
  } finally {
    await queue.close().catch(() => {});
    connection.disconnect();
  }
}

// ── CPU of other processes ───────────────────────────────────────────────────

/** CPU ticks (user+system) per pid of the processes of this machine named `comm`. */
export function processTicks(comm: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== comm) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, Number(fields[11]) + Number(fields[12])); // utime, stime (fields 14, 15)
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * CPU microseconds the `comm` processes used since `before` (per pid, so processes that exit do not
 * make it negative; a process that exited meanwhile is lost, one that started counts whole).
 */
export function cpuSinceUs(comm: string, before: Map<string, number>): number {
  let ticks = 0;
  for (const [pid, now] of processTicks(comm)) ticks += now - (before.get(pid) ?? 0);
  return ticks * 10_000; // CLK_TCK = 100
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

// ── jobgraph's bench processes ───────────────────────────────────────────────

/**
 * The environment of jobgraph's bench processes (bench/api.ts, bench/worker.ts): `backend` with the
 * ledger in `db`, a queue and a pg-boss schema of their own, and `extra` on top (BENCH_COUNT, …).
 */
export function jobgraphEnv(db: BenchDatabase, backend: string, concurrency: number, queueName: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_BACKEND: backend,
    QUEUE_NAME: queueName,
    PGBOSS_SCHEMA: randomName('bench_pgboss'),
    WORKER_CONCURRENCY: String(concurrency),
    SHUTDOWN_TIMEOUT_MS: '5000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

// ── child processes ──────────────────────────────────────────────────────────

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Lines of stdout seen so far. */
  lines: string[];
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray>;
  /** Sends a line on stdin. */
  send(line: string): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

const children = new Set<Child>();

/**
 * Runs a TypeScript file of this repo in a child Node with tsx as a loader (one process, like
 * test/helpers/system.ts spawnTs), stdin piped so it can be told things and so it exits when this
 * process dies.
 */
export function spawnTs(relativeToBench: string, env: Record<string, string | undefined>, nodeArgs: string[] = [], scriptArgs: string[] = []): Child {
  return spawnNode(relativeToBench, env, ['--import', 'tsx', ...nodeArgs], scriptArgs);
}

/** The same without tsx, as `npm start` and `npm run worker` run the sources: Node strips the types itself. */
export function spawnNode(relativeToBench: string, env: Record<string, string | undefined>, nodeArgs: string[] = [], scriptArgs: string[] = []): Child {
  const script = fileURLToPath(new URL(relativeToBench, import.meta.url));
  const childEnv = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const proc = spawn(process.execPath, [...nodeArgs, script, ...scriptArgs], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'inherit'] });
  return track(proc);
}

export function track(proc: ChildProcess): Child {
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  let buffer = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      if (lines.length > 10_000) lines.shift();
      for (const watcher of watchers) watcher(line);
    }
  });
  proc.stdin?.on('error', () => {}); // a child that exited: EPIPE
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  const child: Child = {
    proc,
    pid: proc.pid!,
    lines,
    waitFor(pattern, timeoutMs, what) {
      const seen = lines.map((l) => pattern.exec(l)).find(Boolean);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = () => {
          watchers.delete(watcher);
          clearTimeout(timer);
          proc.off('exit', onExit);
        };
        const watcher = (line: string) => {
          const match = pattern.exec(line);
          if (match) {
            done();
            resolve(match);
          }
        };
        const onExit = (code: number | null) => {
          done();
          reject(new Error(`${what}: the child exited (${code}) first; last output: ${lines.slice(-5).join(' / ')}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${what}: not within ${timeoutMs} ms; last output: ${lines.slice(-5).join(' / ')}`));
        }, timeoutMs);
        watchers.add(watcher);
        proc.once('exit', onExit);
      });
    },
    send(line) {
      if (proc.stdin?.writable) proc.stdin.write(`${line}\n`);
    },
    async stop(graceMs = 10_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** Kills every child still running (SIGKILL): the last resort of a failing bench. */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(2_000)));
}

/** Asks a child (bench/worker.ts or bench/api.ts) for its process.resourceUsage() and memory. */
export async function childStats(child: Child): Promise<ProcessStats> {
  const tag = randomBytes(3).toString('hex');
  const reply = child.waitFor(new RegExp(`^stats ${tag} (.*)$`), 5_000, 'child stats');
  child.send(`stats ${tag}`);
  return JSON.parse((await reply)[1]!) as ProcessStats;
}

/** Resolves once a child's worker has completed at least `n` jobs since it started (see Completions). */
export async function childReached(child: Child, n: number, timeoutMs: number): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const reply = child.waitFor(new RegExp(`^reached ${tag}$`), timeoutMs, `${n} jobs completed`);
  child.send(`reached ${n} ${tag}`);
  await reply;
}

export interface ProcessStats {
  /** user + system CPU, milliseconds. */
  cpuMs: number;
  rssMiB: number;
  heapUsedMiB: number;
  /** What this process sent so far (0 unless BENCH_COUNT=1 installed the counters): every pg statement, the ledger's, every Redis command. */
  pgStatements?: number;
  ledgerStatements?: number;
  redisCommands?: number;
  /** Jobs this process saw completed (workers; see Completions). */
  completed?: number;
  /** The same counts by statement kind and Redis command (cumulative). */
  byKind?: Record<string, number>;
}

export function ownStats(): ProcessStats {
  const usage = process.resourceUsage();
  const memory = process.memoryUsage();
  return {
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    rssMiB: memory.rss / 2 ** 20,
    heapUsedMiB: memory.heapUsed / 2 ** 20,
    pgStatements: counters.pg.total,
    ledgerStatements: counters.ledger.total,
    redisCommands: counters.redis.total,
    completed: completions.count,
    byKind: Object.fromEntries([...counters.pg.byKind, ...[...counters.redis.byKind].map(([k, v]) => [`redis ${k}`, v] as const)]),
  };
}

/**
 * Jobs a child process completed, counted by its worker; `reached <n> <tag>` on stdin is answered
 * `reached <tag>` once the count is at least n, so the bench learns when a run is done without polling.
 */
export class Completions {
  count = 0;
  #waiters: { n: number; resolve: () => void }[] = [];
  add(n = 1): void {
    this.count += n;
    this.#waiters = this.#waiters.filter((w) => (this.count >= w.n ? (w.resolve(), false) : true));
  }
  whenAt(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}
export const completions = new Completions();

/** The stdin protocol of bench children: `stats <tag>` answers `stats <tag> {json}`; `reached <n> <tag>` (see Completions); EOF exits. */
export function serveStdin(onLine: (line: string) => void, onEnd: () => void): void {
  let buffer = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      const stats = /^stats (\S+)$/.exec(line);
      const reached = /^reached (\d+) (\S+)$/.exec(line);
      if (stats) process.stdout.write(`stats ${stats[1]} ${JSON.stringify(ownStats())}\n`);
      else if (reached) void completions.whenAt(Number(reached[1])).then(() => process.stdout.write(`reached ${reached[2]}\n`));
      else if (line) onLine(line);
    }
  });
  process.stdin.on('end', onEnd);
}


/** Polls `done` every `everyMs` until it holds; throws after `timeoutMs`. */
export async function until(done: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs `main`, then exits: 0 if it resolved, 1 if it threw; children are killed either way. */
export function runMain(main: () => Promise<void>): void {
  const hardStop = (signal: string) => {
    console.error(`${signal}: stopping`);
    void killChildren().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => hardStop('SIGINT'));
  process.once('SIGTERM', () => hardStop('SIGTERM'));
  main().then(
    async () => {
      await killChildren();
      process.exit(0);
    },
    async (error: unknown) => {
      console.error(error);
      await killChildren();
      process.exit(1);
    },
  );
}

// ── process trees, and the embedded server a start leaves ────────────────────

/** pid → ppid and RSS (KiB) of every process. */
export function processTable(): Map<number, { ppid: number; rssKiB: number; comm: string }> {
  const out = new Map<number, { ppid: number; rssKiB: number; comm: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const rssPages = Number(fields[21]); // field 24
      out.set(Number(entry), { ppid: Number(fields[1]), rssKiB: (rssPages * 4096) / 1024, comm });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A process and everything under it (by ppid), depth first. */
export function treeOf(root: number): { pid: number; rssKiB: number; depth: number; comm: string }[] {
  const procs = processTable();
  const out: { pid: number; rssKiB: number; depth: number; comm: string }[] = [];
  const walk = (pid: number, depth: number) => {
    const info = procs.get(pid);
    if (!info) return;
    out.push({ pid, rssKiB: info.rssKiB, depth, comm: info.comm });
    for (const [child, c] of procs) if (c.ppid === pid) walk(child, depth + 1);
  };
  walk(root, 0);
  return out;
}

/** How many processes are still in process group `pgid`. */
export function groupMembers(pgid: number): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

/** The status code of GET /ready on 127.0.0.1:`port` (0 when nothing answers within 1 s). */
export function readyStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/ready', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

/** The embedded server left running in a folder (by a start that was killed): taken over and stopped. */
export async function stopLeftServer(embeddedDir: string): Promise<void> {
  const left = await findEmbeddedPostgres(embeddedDir).then(
    () => true,
    () => false,
  );
  if (left) await (await startEmbeddedPostgres({ dir: embeddedDir })).stop();
}

/** A new temporary folder the embedded server's user may enter (as root its cluster then stays in it). */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

// ── HTTP ─────────────────────────────────────────────────────────────────────


export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** POSTs a GraphQL operation and returns the parsed answer; rejects on a non-200 or GraphQL errors. */
export function graphql<T = Record<string, unknown>>(agent: Agent, baseUrl: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const body = JSON.stringify(variables ? { query, variables } : { query });
  const url = new URL('/graphql', baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            const parsed = JSON.parse(text) as { data?: T; errors?: { message: string }[] };
            if (res.statusCode !== 200 || parsed.errors?.length || !parsed.data) {
              reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
            } else resolve(parsed.data);
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `op` `total` times over `lanes` concurrent lanes; returns each call's latency in ms. */
export async function closedLoop(lanes: number, total: number, op: () => Promise<unknown>): Promise<{ latencies: number[]; elapsedMs: number }> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(lanes, total) }, async () => {
      while (started < total) {
        started++;
        const t = performance.now();
        await op();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - t0 };
}
