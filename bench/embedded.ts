// The embedded ledger on PostgreSQL (issue 28): what `npm start` with nothing set costs, each
// figure beside its baseline in the same run. Every start has REDIS_URL on a closed port, so every
// one (embedded or not) runs pg-boss, and LOG_FORMAT=json, so its steps can be read off its lines.
//
//   1. memory of everything `npm start` runs (the API, its worker, every process of the embedded
//      PostgreSQL; npm's own two processes apart), per process and summed, as PSS (from
//      /proc/<pid>/smaps_rollup) with RSS, USS and the group's pages counted once (from
//      /proc/<pid>/pagemap) beside: right after the first start's demo load (100,000 records)
//      completed; idle 10 s later; after 1,000 demo.countWords jobs enqueued over HTTP
//      (enqueueJobs) have all completed, 5 s after (and 15 s later again, the pools' idle
//      connections closed); the server's sessions by who holds them (their client port's socket)
//      and application_name. Beside it an empty Node script on the same node binary. Targets:
//      ≤ 250 MB idle and after the jobs, ≤ 300 MB after the demo load.
//   2. /ready: a fresh folder (a copy of the template npm install made), a restart on the same
//      folder (SIGTERM, everything incl. PostgreSQL ended, started again), and a start after
//      kill -9 of npm start's process group (the server it left running is taken over), split
//      into steps from the API's log lines and from postmaster.pid. Targets ≤ 1 s fresh,
//      ≤ 0.5 s restart. Baseline `node -e 0` (and `npm --version`: npm's own start).
//   3. `npm run worker` beside `npm start` (WORKER_IN_PROCESS=false) on the same folder: its idle
//      PSS/RSS 5 s after it logged 'jobgraph started'. Target ≤ 100 MB.
//   4. profileDataset of the demo's 100,000 records, twice in each start (the first after it, the
//      embedded server cold; then again): the worker's RSS sampled every 100 ms while it runs
//      (target peak ≤ 200 MB), and its run time (the ledger's startedAt → finishedAt) embedded
//      beside the same job on a PostgreSQL deployment (npm start with DATABASE_URL: a fresh
//      database of the shared PostgreSQL, seeded by the same demo.seedDemoData job; the two
//      alternate which goes first): target embedded no slower.
//
// BENCH_EMBEDDED_RUNS (3) rounds, each on a fresh folder; BENCH_EMBEDDED_JOBS (1000);
// BENCH_EMBEDDED_IDLE_MS (10000), BENCH_EMBEDDED_SETTLE_MS (5000), BENCH_EMBEDDED_LATER_MS
// (15000); BENCH_EMBEDDED_PARTS
// (`worker,profile`: which of 3 and 4 to run; 1 and 2 always run, they make the folder);
// BENCH_EMBEDDED_TIMEOUT_MS (60000) for each start to be ready.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { embeddedPaths } from '../src/db/embedded-postgres.ts';
import { demoIds, runPhase } from '../test/helpers/api-probe.ts';
import {
  createBenchDatabase,
  envInt,
  fmt,
  freePort,
  graphql,
  groupMembers,
  keepAliveAgent,
  machineInfo,
  machineTicks,
  median,
  printMachine,
  readyStatus,
  ROOT,
  runMain,
  sleep,
  stopLeftServer,
  table,
  tempDir,
  track,
  treeOf,
  until,
  verdict,
  writeResult,
  type BenchDatabase,
  type Child,
} from './lib.ts';

const RUNS = envInt('BENCH_EMBEDDED_RUNS', 3);
const JOBS = envInt('BENCH_EMBEDDED_JOBS', 1_000);
const IDLE_MS = envInt('BENCH_EMBEDDED_IDLE_MS', 10_000);
const SETTLE_MS = envInt('BENCH_EMBEDDED_SETTLE_MS', 5_000);
/** Once more after the jobs, this much later: past the pools' idle timeout (pg's 10 s). */
const LATER_MS = envInt('BENCH_EMBEDDED_LATER_MS', 15_000);
const READY_TIMEOUT_MS = envInt('BENCH_EMBEDDED_TIMEOUT_MS', 60_000);
const PARTS = new Set((process.env.BENCH_EMBEDDED_PARTS ?? 'worker,profile').split(',').map((p) => p.trim()));
const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

// ── what must be stopped, whatever happens ───────────────────────────────────

/** Process groups of the npm starts spawned here, until seen ended. */
const liveGroups = new Set<number>();
/** Data directories of embedded servers this bench caused to start. */
const dataDirs = new Set<string>();

/** On a signal: every group killed, every server told to stop (fast shutdown), at once. */
function emergencyStop(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  for (const dataDir of dataDirs) {
    const pid = postmaster(dataDir)?.pid;
    if (pid && alive(pid)) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        /* gone */
      }
    }
  }
}
process.once('SIGINT', emergencyStop);
process.once('SIGTERM', emergencyStop);

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal); // the group of a start spawned here, and only it
  } catch {
    /* already gone */
  }
}

// ── /proc ────────────────────────────────────────────────────────────────────

/** postmaster.pid: line 1 the pid, line 4 the port, line 8 the status ("ready" once it accepts connections). */
function postmaster(dataDir: string): { pid: number; port: number; status: string } | undefined {
  try {
    const lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    return Number.isInteger(pid) && pid > 0 ? { pid, port: Number(lines[3]), status: (lines[7] ?? '').trim() } : undefined;
  } catch {
    return undefined;
  }
}

/** Running, and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** When a process started (epoch ms, to 10 ms: its start time in clock ticks since boot). */
function startedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]); // field 22
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Date.now() - (uptime - ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};

type Role = 'npm' | 'api' | 'worker' | 'postmaster' | 'pg aux' | 'pg backends';
const ROLES: Role[] = ['api', 'worker', 'postmaster', 'pg aux', 'pg backends', 'npm'];

interface Proc {
  pid: number;
  role: Role;
  title: string;
}

/**
 * The processes of a start by role: what runs under npm's pid (npm and its sh, the API, the
 * worker), and the embedded server's postmaster (from postmaster.pid: after a takeover it is not
 * under npm) with its children, split into its own processes and the sessions of clients.
 */
function processesOf(npmPid: number, dataDir: string | undefined): Proc[] {
  const out: Proc[] = [];
  const server = new Set<number>();
  const pm = dataDir ? postmaster(dataDir) : undefined;
  if (pm && alive(pm.pid)) {
    for (const { pid } of treeOf(pm.pid)) {
      server.add(pid);
      const title = cmdline(pid).replaceAll('\0', ' ').trim();
      // A session's title: "postgres: <user> <database> <host>(<port>) <what it does>".
      const role: Role = pid === pm.pid ? 'postmaster' : /^postgres: \S+ \S+ [\d.:a-f]+\(\d+\)/.test(title) ? 'pg backends' : 'pg aux';
      out.push({ pid, role, title });
    }
  }
  for (const { pid, comm } of treeOf(npmPid)) {
    if (server.has(pid) || comm === 'postgres') continue;
    const line = cmdline(pid);
    // npm's `sh -c "node … src/main.ts"` names the entry too: the node process is the one.
    const node = /(^|\/)node$/.test(line.split('\0')[0] ?? '');
    const role: Role = node && line.includes('src/main.ts') ? 'api' : node && line.includes('src/worker.ts') ? 'worker' : 'npm';
    out.push({ pid, role, title: line.replaceAll('\0', ' ').trim().slice(0, 120) });
  }
  return out;
}

interface Mem {
  rss: number;
  pss: number;
  /** Private_Clean + Private_Dirty: what it alone holds. */
  uss: number;
  pssAnon: number;
  pssFile: number;
  pssShmem: number;
}
const NO_MEM: Mem = { rss: 0, pss: 0, uss: 0, pssAnon: 0, pssFile: 0, pssShmem: 0 };

/** One process's /proc/<pid>/smaps_rollup, KiB. */
function memOf(pid: number): Mem | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return {
    rss: kib('Rss'),
    pss: kib('Pss'),
    uss: kib('Private_Clean') + kib('Private_Dirty'),
    pssAnon: kib('Pss_Anon'),
    pssFile: kib('Pss_File'),
    pssShmem: kib('Pss_Shmem'),
  };
}

const add = (a: Mem, b: Mem): Mem => ({
  rss: a.rss + b.rss,
  pss: a.pss + b.pss,
  uss: a.uss + b.uss,
  pssAnon: a.pssAnon + b.pssAnon,
  pssFile: a.pssFile + b.pssFile,
  pssShmem: a.pssShmem + b.pssShmem,
});

/**
 * The resident pages of `pids` counted once each (KiB), from their page frames (/proc/<pid>/pagemap,
 * root only): what the group holds, whatever other processes of the machine share with it — PSS
 * splits the node binary's pages with every other node running, RSS counts them once per process.
 */
function uniqueResidentKiB(pids: number[]): number {
  const frames = new Set<number>();
  const buffer = Buffer.alloc(1 << 20);
  for (const pid of pids) {
    let maps: string;
    let fd: number;
    try {
      maps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
    } catch {
      continue;
    }
    try {
      let range: [number, number] | undefined;
      for (const line of maps.split('\n')) {
        const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (head) {
          range = [parseInt(head[1]!, 16), parseInt(head[2]!, 16)];
          continue;
        }
        if (!range || !line.startsWith('Rss:') || /^Rss:\s+0 kB/.test(line)) continue;
        const [from, to] = range;
        range = undefined;
        for (let page = from / 4096; page < to / 4096; ) {
          const n = Math.min(buffer.length / 8, to / 4096 - page);
          let read: number;
          try {
            read = readSync(fd, buffer, 0, n * 8, page * 8);
          } catch {
            break; // [vsyscall] and the like
          }
          for (let i = 0; i + 8 <= read; i += 8) {
            const high = buffer.readUInt32LE(i + 4);
            if (high & 0x80000000) frames.add((high & 0x7fffff) * 2 ** 32 + buffer.readUInt32LE(i)); // present: bits 0–54 the frame
          }
          page += n;
          if (read < n * 8) break;
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return frames.size * 4;
}

interface Snapshot {
  at: string;
  loadavg: number[];
  /** Per role: how many processes, and their memory summed (KiB). */
  roles: Record<Role, Mem & { n: number }>;
  /** The server's sessions by the application_name that opened them (pg_stat_activity). */
  sessions: Record<string, Mem & { n: number }>;
  /** API + worker + every process of the embedded server (npm's two apart), KiB. */
  total: Mem;
  /** The same processes' resident pages counted once each, KiB. */
  totalUnique: number;
  procs: (Proc & Mem)[];
}

/** pid → application_name of the embedded server's sessions (this one's own left out), asked over its password. */
async function sessionNames(embeddedDir: string | undefined, dataDir: string | undefined): Promise<{ names: Map<number, { name: string; port: number }>; own: number } | undefined> {
  const pm = dataDir ? postmaster(dataDir) : undefined;
  if (!embeddedDir || !pm) return undefined;
  const password = readFileSync(join(embeddedDir, 'password'), 'utf8').trim();
  const client = new pg.Client({ connectionString: `postgres://postgres:${password}@127.0.0.1:${pm.port}/postgres`, application_name: 'bench' });
  try {
    await client.connect();
    const { rows } = await client.query<{ pid: number; name: string; port: number; own: number }>(
      "SELECT pid, coalesce(nullif(application_name, ''), '(none)') AS name, client_port AS port, pg_backend_pid() AS own FROM pg_stat_activity WHERE backend_type = 'client backend'",
    );
    return { names: new Map(rows.filter((r) => r.pid !== r.own).map((r) => [r.pid, { name: r.name, port: r.port }])), own: rows[0]?.own ?? 0 };
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Local TCP port → the pid among `pids` holding that socket (/proc/net/tcp's inodes against their fds). */
function socketOwners(pids: number[]): Map<number, number> {
  const ownerOfInode = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode) ownerOfInode.set(inode, pid);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  const out = new Map<number, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const port = parseInt(cols[1]?.split(':')[1] ?? '', 16);
      const owner = ownerOfInode.get(cols[9] ?? '');
      if (owner !== undefined && Number.isInteger(port)) out.set(port, owner);
    }
  }
  return out;
}

async function snapshot(npmPid: number, dataDir: string | undefined, embeddedDir?: string): Promise<Snapshot> {
  const sessions = await sessionNames(embeddedDir, dataDir);
  const procs = processesOf(npmPid, dataDir).flatMap((p) => {
    if (p.pid === sessions?.own) return []; // this bench's own session
    const mem = memOf(p.pid);
    return mem ? [{ ...p, ...mem }] : [];
  });
  const roles = Object.fromEntries(ROLES.map((role) => [role, { n: 0, ...NO_MEM }])) as Snapshot['roles'];
  const byName: Snapshot['sessions'] = {};
  // Which of the API and the worker holds each session's client end.
  const owners = socketOwners(procs.filter((p) => p.role === 'api' || p.role === 'worker').map((p) => p.pid));
  const roleOf = new Map(procs.map((p) => [p.pid, p.role]));
  let total = NO_MEM;
  for (const p of procs) {
    roles[p.role] = { ...add(roles[p.role], p), n: roles[p.role].n + 1 };
    if (p.role !== 'npm') total = add(total, p);
    if (p.role === 'pg backends') {
      const session = sessions?.names.get(p.pid);
      const owner = session ? owners.get(session.port) : undefined;
      const app = session ? (session.name.startsWith('pgboss') ? 'pg-boss' : session.name) : '(unknown)';
      const name = `${owner === undefined ? 'other' : roleOf.get(owner)}: ${app}`;
      const seen = byName[name] ?? { n: 0, ...NO_MEM };
      byName[name] = { ...add(seen, p), n: seen.n + 1 };
    }
  }
  return {
    at: new Date().toISOString(),
    loadavg: load(),
    roles,
    sessions: byName,
    total,
    totalUnique: uniqueResidentKiB(procs.filter((p) => p.role !== 'npm').map((p) => p.pid)),
    procs,
  };
}

/** PSS of a start's processes (npm's apart), summed, KiB: cheap enough to sample. */
function totalPss(npmPid: number, dataDir: string | undefined): number {
  return processesOf(npmPid, dataDir)
    .filter((p) => p.role !== 'npm')
    .reduce((sum, p) => sum + (memOf(p.pid)?.pss ?? 0), 0);
}

/** The embedded server's processes summed, KiB. */
const serverOf = (s: Snapshot): Mem & { n: number } =>
  (['postmaster', 'pg aux', 'pg backends'] as const).reduce((acc, role) => ({ ...add(acc, s.roles[role]), n: acc.n + s.roles[role].n }), { n: 0, ...NO_MEM });

/** VmRSS and VmHWM of one process, KiB. */
function statusOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Every `everyMs`, the RSS of each worker process of a start: the largest seen, per pid (KiB). */
function sampleWorkers(npmPid: number, everyMs = 100) {
  const peaks = new Map<number, { rss: number; hwm: number; first: number }>();
  let samples = 0;
  const timer = setInterval(() => {
    samples++;
    for (const p of processesOf(npmPid, undefined)) {
      if (p.role !== 'worker') continue;
      const now = statusOf(p.pid);
      if (!now) continue;
      const seen = peaks.get(p.pid);
      peaks.set(p.pid, { rss: Math.max(seen?.rss ?? 0, now.rss), hwm: Math.max(seen?.hwm ?? 0, now.hwm), first: seen?.first ?? now.rss });
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const all = [...peaks.values()];
      return { samples, workers: peaks.size, peakRss: Math.max(0, ...all.map((p) => p.rss)), peakHwm: Math.max(0, ...all.map((p) => p.hwm)), firstRss: all[0]?.first ?? NaN };
    },
  };
}

// ── npm start ────────────────────────────────────────────────────────────────

/** Redis is "down" for every start: nothing listens there. */
let closedRedisPort = 0;

function baseEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const key of [
    'DATABASE_URL',
    'QUEUE_BACKEND',
    'EVENT_BUS',
    'QUEUE_NAME',
    'PGBOSS_SCHEMA',
    'API_TOKENS',
    'API_OPEN',
    'HOST',
    'METRICS_PORT',
    'EMBEDDED_DIR',
    'EMBEDDED_PORT',
    'EMBEDDED_LEDGER_URL',
    'PGLITE_DIR',
    'WORKER_IN_PROCESS',
    'WORKER_MAX_MEMORY_MB',
    'WORKER_CONCURRENCY',
    'NODE_OPTIONS',
  ])
    delete env[key];
  return {
    ...env,
    REDIS_URL: `redis://127.0.0.1:${closedRedisPort}`,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    PATH: `${join(ROOT, 'node_modules', '.bin')}${delimiter}${env.PATH ?? ''}`,
    ...extra,
  };
}

interface Started {
  child: Child;
  url: string;
  spawnedAt: number;
  t0: number;
  readyMs: number;
  /** From spawn until postmaster.pid said "ready" (polled every 5 ms); 0 when it already did. */
  serverReadyMs: number | undefined;
  dataDir: string | undefined;
  embeddedDir: string | undefined;
  /** Lines of its stdout that parse as JSON log lines, all of them (Child.lines keeps the last 10,000). */
  logs: { from: number; time: number; msg: string; [key: string]: unknown }[];
}

/** `npm <args>` in a process group of its own, its JSON log lines kept. */
function spawnNpm(args: string[], env: Record<string, string>): { child: Child; logs: Started['logs'] } {
  const proc = spawn('npm', [...args, '--silent'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const child = track(proc);
  liveGroups.add(child.pid);
  const logs: Started['logs'] = [];
  let buffer = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as Started['logs'][number];
        // The process that wrote it: pino's own pid, the first; a line's fields may name another pid after it.
        entry.from = Number(/"pid":(\d+)/.exec(line)?.[1]);
        if (typeof entry.msg === 'string' && typeof entry.time === 'number') logs.push(entry);
      } catch {
        /* not a log line */
      }
    }
  });
  return { child, logs };
}

/** Spawns `npm start` and waits for /ready to answer 200 (polled every 10 ms). */
async function startNpm(opts: { embeddedDir?: string; databaseUrl?: string; env?: Record<string, string> }): Promise<Started> {
  const port = await freePort();
  const env = baseEnv({
    PORT: String(port),
    ...(opts.embeddedDir ? { EMBEDDED_DIR: opts.embeddedDir } : {}),
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...opts.env,
  });
  const dataDir = opts.embeddedDir ? (await embeddedPaths(opts.embeddedDir)).dataDir : undefined;
  if (dataDir) dataDirs.add(dataDir);
  const before = dataDir ? postmaster(dataDir) : undefined;
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const { child, logs } = spawnNpm(['start'], env);
  let serverReadyMs: number | undefined = before?.status === 'ready' && alive(before.pid) ? 0 : undefined;
  let polling = dataDir !== undefined && serverReadyMs === undefined;
  const poll = (async () => {
    while (polling) {
      const pm = postmaster(dataDir!);
      if (pm?.status === 'ready' && pm.pid !== before?.pid) {
        serverReadyMs = performance.now() - t0;
        return;
      }
      await sleep(5);
    }
  })();
  try {
    for (;;) {
      if (child.proc.exitCode !== null) throw new Error(`npm start exited (${child.proc.exitCode}) before ready: ${child.lines.slice(-3).join(' / ')}`);
      if ((await readyStatus(port)) === 200) break;
      if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`npm start: /ready did not answer 200 within ${READY_TIMEOUT_MS} ms`);
      await sleep(10);
    }
  } catch (error) {
    polling = false;
    await stopStart({ child, dataDir, embeddedDir: opts.embeddedDir });
    throw error;
  }
  const readyMs = performance.now() - t0;
  polling = false;
  await poll;
  return { child, url: `http://127.0.0.1:${port}`, spawnedAt, t0, readyMs, serverReadyMs, dataDir, embeddedDir: opts.embeddedDir, logs };
}

/** Resolves with the first log line whose msg matches (and, given, whose fields match `where`). */
async function logLine(s: { logs: Started['logs']; child: Child }, pattern: RegExp, timeoutMs: number, what: string, where: (entry: Started['logs'][number]) => boolean = () => true) {
  let found: Started['logs'][number] | undefined;
  await until(
    () => {
      if (s.child.proc.exitCode !== null && !found) throw new Error(`${what}: npm exited (${s.child.proc.exitCode}) first`);
      found = s.logs.find((entry) => pattern.test(entry.msg) && where(entry));
      return found !== undefined;
    },
    timeoutMs,
    what,
    10,
  );
  return found!;
}

/** The API's node process (src/main.ts) of a start. */
function apiPid(npmPid: number): number | undefined {
  return processesOf(npmPid, undefined).find((p) => p.role === 'api')?.pid;
}

const STEPS: [RegExp, string][] = [
  [/^embedded ledger created and started$/, 'server created from the template (log)'],
  [/taking it over$/, 'server taken over (log)'],
  [/^ledger database open$/, 'ledger open'],
  [/^queue backend: /, 'backend chosen'],
  [/^jobgraph started$/, 'job system started'],
  [/^jobgraph API ready/, 'listening'],
];
const STEP_NAMES = [
  'API process started (/proc)',
  'postgres spawned (/proc)',
  'server ready (postmaster.pid)',
  ...STEPS.map(([, name]) => name),
  '/ready 200',
  'worker ready',
];

/**
 * Milliseconds from spawn to each step: the API's process and the postmaster's (their start times
 * in /proc, to 10 ms; the postmaster only when this start spawned it), postmaster.pid saying
 * "ready", the API's log lines, /ready, and the API's 'worker process ready'.
 */
function stepsOf(s: Started, api: number | undefined): Record<string, number> {
  const steps: Record<string, number> = {};
  const since = (at: number | undefined) => (at === undefined ? undefined : Math.round(at - s.spawnedAt));
  const apiStarted = api === undefined ? undefined : since(startedAt(api));
  if (apiStarted !== undefined) steps['API process started (/proc)'] = apiStarted;
  const pm = s.dataDir ? postmaster(s.dataDir) : undefined;
  if (pm && s.serverReadyMs !== undefined && s.serverReadyMs > 0) {
    const spawned = since(startedAt(pm.pid));
    if (spawned !== undefined) steps['postgres spawned (/proc)'] = spawned;
    steps['server ready (postmaster.pid)'] = Math.round(s.serverReadyMs);
  }
  for (const entry of s.logs) {
    if (api !== undefined && entry.from !== api) continue;
    for (const [pattern, name] of STEPS) if (pattern.test(entry.msg)) steps[name] ??= entry.time - s.spawnedAt;
    if (entry.msg === 'worker process ready') steps['worker ready'] ??= entry.time - s.spawnedAt;
  }
  steps['/ready 200'] = Math.round(s.readyMs);
  return steps;
}

/**
 * SIGTERM to the start's process group; resolves (with the ms it took) once every process of the
 * group and the embedded server it ran have ended. SIGKILL after 45 s, and the server stopped.
 */
async function stopStart(s: { child: Child; dataDir: string | undefined; embeddedDir?: string | undefined }, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
  const pgid = s.child.pid;
  const server = s.dataDir ? postmaster(s.dataDir)?.pid : undefined;
  const t = performance.now();
  signalGroup(pgid, signal);
  const gone = () => groupMembers(pgid) === 0 && (signal === 'SIGKILL' || server === undefined || !alive(server));
  try {
    await until(gone, 45_000, 'npm start and its embedded server to end', 10);
  } catch (error) {
    signalGroup(pgid, 'SIGKILL');
    await until(() => groupMembers(pgid) === 0, 5_000, 'the group to die').catch(() => {});
    if (s.embeddedDir) await stopLeftServer(s.embeddedDir).catch(() => {});
    throw error;
  } finally {
    if (groupMembers(pgid) === 0) liveGroups.delete(pgid);
  }
  return performance.now() - t;
}

// ── the parts ────────────────────────────────────────────────────────────────

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

interface StartRow {
  kind: 'fresh' | 'restart' | 'takeover';
  readyMs: number;
  steps: Record<string, number>;
  /** SIGTERM until everything (the server too) ended, for the start measured before this one's stop. */
  stopMs?: number;
  loadavg: number[];
}

interface MemoryRun {
  demoLoadMs: number;
  demoRunMs: number;
  /** The worker's RSS during the demo load, sampled every 100 ms (KiB). */
  demoWorkerPeakRss: number;
  /** The PSS of it all (npm's apart) during the demo load, sampled every 100 ms (KiB). */
  demoPeakPss: number;
  /** Whether the worker that ran the demo load exited over its memory limit (then afterDemo is once its replacement was ready). */
  replacedAfterDemo: boolean;
  /** The moment the demo load was seen completed. */
  atCompletion: Snapshot;
  jobsMs: number;
  workerReplacements: number;
  afterDemo: Snapshot;
  idle: Snapshot;
  afterJobs: Snapshot;
  /** LATER_MS after afterJobs. */
  afterJobsLater: Snapshot;
  emptyNode: Mem;
}

/**
 * Part 1 and 2 on a new folder: the fresh start and its memory at (b), (a), (c); SIGTERM; a
 * restart; kill -9 of it; a start that takes the server over; SIGTERM.
 */
async function memoryAndStarts(embeddedDir: string, exe: { path?: string }): Promise<{ memory: MemoryRun; starts: StartRow[] }> {
  const starts: StartRow[] = [];
  const fresh = await startNpm({ embeddedDir });
  const agent = keepAliveAgent(2);
  let memory: MemoryRun;
  let freshStopMs: number;
  try {
    const seed = await logLine(fresh, /^first start: loading the demo data/, 30_000, 'the demo load to be enqueued');
    await logLine(fresh, /^worker process ready$/, 60_000, 'the worker to be ready');
    const api = apiPid(fresh.child.pid);
    starts.push({ kind: 'fresh', readyMs: fresh.readyMs, steps: stepsOf(fresh, api), loadavg: load() });
    if (api !== undefined) exe.path ??= readlinkSync(`/proc/${api}/exe`);
    // (b) right after the demo load: its job polled every 100 ms, the PSS of it all sampled meanwhile.
    const sampler = sampleWorkers(fresh.child.pid);
    const t = performance.now();
    let job: { status: string; startedAt: string | null; finishedAt: string | null } | undefined;
    let demoPeakPss = 0;
    await until(
      async () => {
        demoPeakPss = Math.max(demoPeakPss, totalPss(fresh.child.pid, fresh.dataDir));
        job = (await graphql<{ job: typeof job }>(agent, fresh.url, 'query ($id: ID!) { job(id: $id) { status startedAt finishedAt } }', { id: seed.jobId })).job;
        return job !== undefined && job !== null && TERMINAL.has(job.status);
      },
      300_000,
      'the demo load',
      100,
    );
    const atCompletion = await snapshot(fresh.child.pid, fresh.dataDir, embeddedDir);
    const demoLoadMs = performance.now() - t;
    const demoWorker = sampler.stop();
    if (job!.status !== 'COMPLETED') throw new Error(`the demo load ended ${job!.status}`);
    // The worker that ran it exits when a job left it over its memory limit (WORKER_MAX_MEMORY_MB;
    // npm start starts another): then (b) is the state once the next worker is ready.
    const readies = () => fresh.logs.filter((l) => l.msg === 'worker process ready').length;
    const readyBefore = readies();
    await sleep(500);
    const replacedAfterDemo = fresh.logs.some((l) => /^worker memory over WORKER_MAX_MEMORY_MB/.test(l.msg));
    if (replacedAfterDemo) await until(() => readies() > readyBefore, 60_000, 'the replacement worker', 20);
    const afterDemo = replacedAfterDemo ? await snapshot(fresh.child.pid, fresh.dataDir, embeddedDir) : atCompletion;
    // (a) idle, an empty script on the same node beside it.
    const empty = track(spawn(exe.path ?? process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'ignore', 'inherit'] }));
    await sleep(IDLE_MS);
    const idle = await snapshot(fresh.child.pid, fresh.dataDir, embeddedDir);
    const emptyNode = memOf(empty.pid) ?? NO_MEM;
    await empty.stop(1_000);
    // (c) JOBS countWords over HTTP in one enqueueJobs, all completed, then settled.
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ type: 'demo.countWords', input: { text: `job ${i} of the bench`, chunkSize: 2 } }));
    const t1 = performance.now();
    await graphql(agent, fresh.url, 'mutation ($jobs: [EnqueueJobInput!]!) { enqueueJobs(jobs: $jobs) { job { id } } }', { jobs });
    const counts = async () =>
      (await graphql<{ queueInfo: { jobCounts: { status: string; type: string; count: number }[] } }>(agent, fresh.url, '{ queueInfo { jobCounts { status type count } } }')).queueInfo.jobCounts.filter(
        (c) => c.type === 'demo.countWords',
      );
    await until(async () => (await counts()).filter((c) => TERMINAL.has(c.status)).reduce((a, c) => a + c.count, 0) >= JOBS, 600_000, `${JOBS} jobs to end`, 100);
    const jobsMs = performance.now() - t1;
    const completed = (await counts()).find((c) => c.status === 'COMPLETED')?.count ?? 0;
    if (completed !== JOBS) throw new Error(`${JOBS - completed} of ${JOBS} countWords jobs did not complete`);
    await sleep(SETTLE_MS);
    const afterJobs = await snapshot(fresh.child.pid, fresh.dataDir, embeddedDir);
    await sleep(LATER_MS);
    const afterJobsLater = await snapshot(fresh.child.pid, fresh.dataDir, embeddedDir);
    const workerReplacements = fresh.logs.filter((l) => l.msg === 'worker process ready').length - 1;
    memory = {
      demoLoadMs,
      demoRunMs: Date.parse(job!.finishedAt!) - Date.parse(job!.startedAt!),
      demoWorkerPeakRss: demoWorker.peakRss,
      demoPeakPss,
      replacedAfterDemo,
      jobsMs,
      workerReplacements,
      atCompletion,
      afterDemo,
      idle,
      afterJobs,
      afterJobsLater,
      emptyNode,
    };
  } finally {
    agent.destroy();
    freshStopMs = await stopStart(fresh);
  }
  // A restart on the folder, everything of the last start ended.
  const restart = await startNpm({ embeddedDir });
  await logLine(restart, /^worker process ready$/, 60_000, 'the worker to be ready (restart)').catch(async (error: unknown) => {
    await stopStart(restart);
    throw error;
  });
  starts.push({ kind: 'restart', readyMs: restart.readyMs, steps: stepsOf(restart, apiPid(restart.child.pid)), stopMs: freshStopMs, loadavg: load() });
  // kill -9 of npm start (its whole group: npm, sh, the API, the worker): the server stays.
  const left = postmaster(restart.dataDir!);
  await stopStart(restart, 'SIGKILL');
  if (!left || !alive(left.pid)) throw new Error('the embedded server did not outlive kill -9 of npm start');
  const takeover = await startNpm({ embeddedDir });
  try {
    await logLine(takeover, /^worker process ready$/, 60_000, 'the worker to be ready (takeover)');
    const steps = stepsOf(takeover, apiPid(takeover.child.pid));
    if (!('server taken over (log)' in steps)) throw new Error(`the start after kill -9 did not take the server over: ${takeover.logs.slice(0, 3).map((l) => l.msg).join(' / ')}`);
    starts.push({ kind: 'takeover', readyMs: takeover.readyMs, steps, loadavg: load() });
  } finally {
    const stopMs = await stopStart(takeover);
    starts.at(-1)!.stopMs ??= stopMs;
  }
  return { memory, starts };
}

interface WorkerRun {
  readyMs: number;
  worker: Mem;
  npm: Mem;
  /** API + server beside it (no worker of its own), for the record. */
  beside: Snapshot;
  loadavg: number[];
}

/** Part 3: `npm run worker` beside `npm start` WORKER_IN_PROCESS=false, 5 s after it started. */
async function workerIdle(embeddedDir: string): Promise<WorkerRun> {
  const api = await startNpm({ embeddedDir, env: { WORKER_IN_PROCESS: 'false' } });
  try {
    const t0 = performance.now();
    const spawned = spawnNpm(['run', 'worker'], baseEnv({ EMBEDDED_DIR: embeddedDir }));
    const worker = { ...spawned, dataDir: undefined };
    try {
      await logLine(worker, /^jobgraph started$/, 60_000, 'npm run worker to start', (l) => l.worker === true);
      const readyMs = performance.now() - t0;
      await sleep(SETTLE_MS);
      const own = await snapshot(worker.child.pid, undefined);
      const beside = await snapshot(api.child.pid, api.dataDir, embeddedDir);
      return { readyMs, worker: own.roles.worker, npm: own.roles.npm, beside, loadavg: load() };
    } finally {
      await stopStart(worker);
    }
  } finally {
    await stopStart(api);
  }
}

interface ProfileRun {
  deployment: 'embedded' | 'postgres';
  /** 1: the first after the start; 2: the one after it. */
  job: 1 | 2;
  /** Whether its worker exited over its memory limit after it. */
  replaced: boolean;
  backend: string;
  runMs: number;
  /** The worker's RSS when the job was enqueued, its largest sample while it ran, its VmHWM (KiB). */
  workerIdleRss: number;
  peakRss: number;
  peakHwm: number;
  samples: number;
  workers: number;
  loadavg: number[];
}

/**
 * Part 4: one start, then profileDataset of the demo dataset twice, one after the other (the first
 * on the server as it starts: the embedded one cold, the shared one warm), each on a worker that
 * ran nothing before (one grown over its memory limit is replaced before the next), its RSS
 * sampled every 100 ms.
 */
async function profileStart(deployment: ProfileRun['deployment'], target: { embeddedDir?: string; databaseUrl?: string }): Promise<ProfileRun[]> {
  const s = await startNpm(target);
  const out: ProfileRun[] = [];
  try {
    await logLine(s, /^worker process ready$/, 60_000, 'the worker to be ready');
    const backend = String((await logLine(s, /^jobgraph started$/, 1_000, 'the job system', (l) => l.worker === true)).backend);
    if (backend !== 'pgboss') throw new Error(`${deployment}: the worker runs ${backend}, not pg-boss`);
    const ids = await demoIds(s.url);
    if (!ids) throw new Error(`${deployment}: no demo data`);
    const readies = () => s.logs.filter((l) => l.msg === 'worker process ready').length;
    for (const job of [1, 2] as const) {
      const before = readies();
      const sampler = sampleWorkers(s.child.pid);
      await sleep(150);
      const run = await runPhase(s.url, 'profileDataset', { datasetId: ids.datasetId }, 600_000);
      const peaks = sampler.stop();
      await sleep(500);
      const replaced = s.logs.filter((l) => /^worker memory over WORKER_MAX_MEMORY_MB/.test(l.msg)).length > out.filter((o) => o.replaced).length;
      out.push({ deployment, job, backend, runMs: run.runMs, workerIdleRss: peaks.firstRss, peakRss: peaks.peakRss, peakHwm: peaks.peakHwm, samples: peaks.samples, workers: peaks.workers, replaced, loadavg: load() });
      if (replaced && job === 1) await until(() => readies() > before, 60_000, 'the replacement worker', 20);
    }
    return out;
  } finally {
    await stopStart(s);
  }
}

/** A PostgreSQL deployment's ledger: a new migrated database, the demo loaded by the same job as embedded. */
async function seededDatabase(): Promise<BenchDatabase> {
  const db = await createBenchDatabase();
  try {
    const s = await startNpm({ databaseUrl: db.url });
    try {
      const seed = await runPhase(s.url, 'seedDemoData', {}, 600_000);
      console.log(`  PostgreSQL deployment: ${db.name} seeded by demo.seedDemoData in ${fmt(seed.runMs / 1000, 1)} s`);
    } finally {
      await stopStart(s);
    }
  } catch (error) {
    await db.drop();
    throw error;
  }
  return db;
}

/** Milliseconds from spawn to exit of `file args`, `n` times. */
function startTimes(file: string, args: string[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const result = spawnSync(file, args, { stdio: 'ignore', env: baseEnv({}) });
    if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.status}`);
    out.push(performance.now() - t);
  }
  return out;
}

// ── main ─────────────────────────────────────────────────────────────────────

interface Run {
  run: number;
  loadBefore: number[];
  loadAfter: number[];
  /** Share of the machine's CPU busy during the run (everyone's, this bench's too), %. */
  machineBusy: number;
  memory: MemoryRun;
  starts: StartRow[];
  nodeE0Ms: number[];
  npmVersionMs: number[];
  worker?: WorkerRun;
  profiles: ProfileRun[];
}

const spread = (values: number[], digits = 0) => {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return '—';
  return v.length === 1 ? fmt(v[0]!, digits) : `${fmt(median(v), digits)} (${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)})`;
};
const mibSpread = (kib: number[]) => spread(kib.map(MiB), 1);

runMain(async () => {
  const machine = await machineInfo();
  printMachine(machine);
  closedRedisPort = await freePort();
  console.log(
    `embedded: ${RUNS} runs of npm start on a fresh EMBEDDED_DIR (Redis on closed port ${closedRedisPort}: pg-boss everywhere), ` +
      `${JOBS} countWords jobs, idle ${IDLE_MS} ms, settle ${SETTLE_MS} ms (and ${LATER_MS} ms more); parts: memory, starts${[...PARTS].map((p) => `, ${p}`).join('')}\n`,
  );
  const exe: { path?: string } = {};
  const runs: Run[] = [];
  const db = PARTS.has('profile') ? await seededDatabase() : undefined;
  try {
    for (let run = 1; run <= RUNS; run++) {
      const dir = await tempDir('jobgraph-bench-embedded-');
      const embeddedDir = join(dir, 'jobgraph');
      const loadBefore = load();
      const ticks = machineTicks();
      try {
        const { memory, starts } = await memoryAndStarts(embeddedDir, exe);
        const nodeE0Ms = startTimes(exe.path ?? process.execPath, ['-e', '0'], 10);
        const npmVersionMs = startTimes('npm', ['--version'], 5);
        const worker = PARTS.has('worker') ? await workerIdle(embeddedDir) : undefined;
        const profiles: ProfileRun[] = [];
        if (db) {
          const order = run % 2 ? (['embedded', 'postgres'] as const) : (['postgres', 'embedded'] as const);
          for (const deployment of order) profiles.push(...(await profileStart(deployment, deployment === 'embedded' ? { embeddedDir } : { databaseUrl: db.url })));
        }
        const after = machineTicks();
        const r: Run = {
          run,
          loadBefore,
          loadAfter: load(),
          machineBusy: Math.round(((after.busy - ticks.busy) / Math.max(1, after.total - ticks.total)) * 1000) / 10,
          memory,
          starts,
          nodeE0Ms,
          npmVersionMs,
          ...(worker ? { worker } : {}),
          profiles,
        };
        runs.push(r);
        const of = (kind: StartRow['kind']) => fmt(starts.find((s) => s.kind === kind)?.readyMs ?? NaN, 0);
        const prof = (d: string) => profiles.find((p) => p.deployment === d && p.job === 1);
        console.log(
          `run ${run} (load ${loadBefore.join('/')} → ${r.loadAfter.join('/')}, machine ${r.machineBusy}% busy): ` +
            `PSS total after demo ${fmt(MiB(memory.afterDemo.total.pss))} / idle ${fmt(MiB(memory.idle.total.pss))} / after jobs ${fmt(MiB(memory.afterJobs.total.pss))} MiB; ` +
            `ready fresh ${of('fresh')} / restart ${of('restart')} / takeover ${of('takeover')} ms; node -e 0 ${fmt(median(nodeE0Ms), 0)} ms` +
            (worker ? `; npm run worker PSS ${fmt(MiB(worker.worker.pss))} MiB` : '') +
            (profiles.length ? `; profileDataset embedded ${fmt(prof('embedded')?.runMs ?? NaN, 0)} ms (worker peak ${fmt(MiB(prof('embedded')?.peakRss ?? NaN))} MiB) / postgres ${fmt(prof('postgres')?.runMs ?? NaN, 0)} ms` : ''),
        );
      } finally {
        for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
        await stopLeftServer(embeddedDir).catch((error: unknown) => console.error('could not stop the server left in', embeddedDir, error));
        for (const dataDir of dataDirs) {
          const pid = postmaster(dataDir)?.pid;
          if (pid && alive(pid)) console.error(`an embedded server still runs in ${dataDir} (pid ${pid})`);
        }
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await db?.drop();
  }
  report(runs, exe.path ?? process.execPath);
  await writeResult('embedded', { machine, params: { runs: RUNS, jobs: JOBS, idleMs: IDLE_MS, settleMs: SETTLE_MS, laterMs: LATER_MS, parts: [...PARTS], node: exe.path }, runs });
});

function report(runs: Run[], exe: string): void {
  const mem = (pick: (r: Run) => Snapshot) => runs.map((r) => pick(r).total.pss);
  const met = (values: number[], limit: number) => `${verdict(median(values) <= limit)} (${values.filter((v) => v <= limit).length}/${values.length} runs)`;
  const startsOf = (kind: StartRow['kind']) => runs.flatMap((r) => r.starts.filter((s) => s.kind === kind).map((s) => s.readyMs));
  const nodeE0 = runs.flatMap((r) => r.nodeE0Ms);
  const profiles = (d: ProfileRun['deployment'], job?: 1 | 2) => runs.flatMap((r) => r.profiles.filter((p) => p.deployment === d && (job === undefined || p.job === job)));
  const rows: (string | number)[][] = [];
  const memRow = (label: string, pick: (r: Run) => Snapshot, limitMiB: number) => {
    const pss = mem(pick).map(MiB);
    rows.push([
      label,
      `≤ ${limitMiB} MB PSS`,
      `${spread(pss, 1)} MiB PSS; RSS ${mibSpread(runs.map((r) => pick(r).total.rss))}, once-each ${mibSpread(runs.map((r) => pick(r).totalUnique))}`,
      `empty node: PSS ${mibSpread(runs.map((r) => r.memory.emptyNode.pss))}, RSS ${mibSpread(runs.map((r) => r.memory.emptyNode.rss))}`,
      met(pss, limitMiB),
    ]);
  };
  memRow('1a memory idle (demo done, 10 s idle): API + worker + PostgreSQL', (r) => r.memory.idle, 250);
  memRow('1b memory right after the demo load (its worker replaced, if it was)', (r) => r.memory.afterDemo, 300);
  rows.push([
    '1b′ the same, the moment the load was seen completed; and its peak',
    '(≤ 300 MB PSS)',
    `${mibSpread(runs.map((r) => r.memory.atCompletion.total.pss))} MiB PSS at completion; peak during the load ${mibSpread(runs.map((r) => r.memory.demoPeakPss))}`,
    `worker replaced after it: ${runs.filter((r) => r.memory.replacedAfterDemo).length}/${runs.length} runs`,
    met(
      runs.map((r) => MiB(r.memory.demoPeakPss)),
      300,
    ).replace(/^/, 'peak: '),
  ]);
  memRow(`1c memory after ${JOBS} countWords completed (+${SETTLE_MS / 1000} s)`, (r) => r.memory.afterJobs, 250);
  memRow(`1c′ the same, ${(SETTLE_MS + LATER_MS) / 1000} s after them (the pools' idle connections closed)`, (r) => r.memory.afterJobsLater, 250);
  const nodeBase = `node -e 0: ${spread(nodeE0)} ms; npm --version: ${spread(runs.flatMap((r) => r.npmVersionMs))} ms`;
  rows.push(['2a fresh EMBEDDED_DIR: spawn → /ready 200', '≤ 1000 ms', `${spread(startsOf('fresh'))} ms`, nodeBase, met(startsOf('fresh'), 1000)]);
  rows.push(['2b restart on the folder (after SIGTERM, all ended)', '≤ 500 ms', `${spread(startsOf('restart'))} ms`, nodeBase, met(startsOf('restart'), 500)]);
  rows.push(['2c start after kill -9 (server taken over)', '(none; ≤ 500 as 2b)', `${spread(startsOf('takeover'))} ms`, nodeBase, met(startsOf('takeover'), 500)]);
  const workers = runs.flatMap((r) => (r.worker ? [r.worker] : []));
  if (workers.length) {
    const pss = workers.map((w) => MiB(w.worker.pss));
    rows.push([
      '3 npm run worker idle (5 s after started)',
      '≤ 100 MB PSS',
      `${spread(pss, 1)} MiB PSS; RSS ${mibSpread(workers.map((w) => w.worker.rss))}; USS ${mibSpread(workers.map((w) => w.worker.uss))}`,
      `empty node: PSS ${mibSpread(runs.map((r) => r.memory.emptyNode.pss))}, RSS ${mibSpread(runs.map((r) => r.memory.emptyNode.rss))}`,
      met(pss, 100),
    ]);
  }
  const emb = profiles('embedded');
  const pgp = profiles('postgres');
  if (emb.length) {
    const peaks = emb.map((p) => MiB(p.peakRss));
    rows.push([
      '4a profileDataset (100,000 records) embedded: worker peak RSS (100 ms samples), both jobs of each start',
      '≤ 200 MB',
      `${spread(peaks, 1)} MiB (VmHWM ${mibSpread(emb.map((p) => p.peakHwm))})`,
      `worker RSS when enqueued ${mibSpread(emb.map((p) => p.workerIdleRss))}; on PostgreSQL peak ${mibSpread(pgp.map((p) => p.peakRss))}`,
      met(peaks, 200),
    ]);
    for (const job of [1, 2] as const) {
      const e = profiles('embedded', job).map((x) => x.runMs);
      const p = profiles('postgres', job).map((x) => x.runMs);
      const wins = runs.filter((r) => (r.profiles.find((x) => x.deployment === 'embedded' && x.job === job)?.runMs ?? Infinity) <= (r.profiles.find((x) => x.deployment === 'postgres' && x.job === job)?.runMs ?? -1)).length;
      rows.push([
        `4b profileDataset run time, embedded vs a PostgreSQL deployment (pg-boss both), ${job === 1 ? 'first job after the start' : 'second job'}`,
        '≤ the PostgreSQL one',
        `${spread(e)} ms`,
        `PostgreSQL 15 deployment: ${spread(p)} ms (embedded/PG ${fmt(median(e) / median(p), 2)})`,
        `${verdict(median(e) <= median(p))} (${wins}/${runs.length} runs)`,
      ]);
    }
  }
  console.log(`\nembedded ledger (issue 28): median (range) of ${runs.length} runs; loads ${runs.map((r) => `${r.loadBefore.join('/')}→${r.loadAfter.join('/')}`).join(', ')}\n`);
  console.log(table(['target', 'aim', 'measured', 'baseline, same run', 'met?'], rows));

  console.log(`\nmemory per process role, MiB, median (range) of ${runs.length} runs: PSS | RSS | USS (private); node ${exe}\n`);
  const phases: [string, (r: Run) => Snapshot][] = [
    ['after demo', (r) => r.memory.afterDemo],
    ['idle', (r) => r.memory.idle],
    [`after ${JOBS} jobs`, (r) => r.memory.afterJobs],
    [`${(SETTLE_MS + LATER_MS) / 1000} s after them`, (r) => r.memory.afterJobsLater],
  ];
  const roleRows: (string | number)[][] = [];
  const roleLabel: Record<Role, string> = {
    api: 'API (node src/main.ts)',
    worker: 'worker (node src/worker.ts)',
    postmaster: 'PostgreSQL postmaster',
    'pg aux': 'PostgreSQL own processes (io workers, checkpointer, bgwriter, walwriter, launchers)',
    'pg backends': 'PostgreSQL sessions (client connections)',
    npm: '(npm and its sh: not counted)',
  };
  const cell = (pick: (r: Run) => Snapshot, of: (s: Snapshot) => Mem & { n?: number }) => {
    const mems = runs.map((r) => of(pick(r)));
    const n = mems.map((m) => m.n).filter((x): x is number => x !== undefined);
    return `${mibSpread(mems.map((m) => m.pss))} | ${mibSpread(mems.map((m) => m.rss))} | ${mibSpread(mems.map((m) => m.uss))}${n.length ? ` [n ${spread(n)}]` : ''}`;
  };
  for (const role of ROLES) roleRows.push([roleLabel[role], ...phases.map(([, pick]) => cell(pick, (s) => s.roles[role]))]);
  roleRows.push(['PostgreSQL, all its processes', ...phases.map(([, pick]) => cell(pick, serverOf))]);
  roleRows.push(['total: API + worker + PostgreSQL', ...phases.map(([, pick]) => cell(pick, (s) => s.total))]);
  roleRows.push(['total, pages counted once (pagemap)', ...phases.map(([, pick]) => mibSpread(runs.map((r) => pick(r).totalUnique)))]);
  const empty = runs.map((r) => r.memory.emptyNode);
  roleRows.push(["empty node -e 'setInterval(…)' (beside idle)", '', `${mibSpread(empty.map((m) => m.pss))} | ${mibSpread(empty.map((m) => m.rss))} | ${mibSpread(empty.map((m) => m.uss))}`, '', '']);
  console.log(table(['process', ...phases.map(([name]) => name)], roleRows));

  console.log('\nwhere the PSS goes (MiB, median): anonymous | file-backed | shared memory (PostgreSQL: shared_buffers and its other shared memory)\n');
  const split = (pick: (r: Run) => Snapshot, of: (s: Snapshot) => Mem) => {
    const mems = runs.map((r) => of(pick(r)));
    return `${fmt(MiB(median(mems.map((m) => m.pssAnon))))} | ${fmt(MiB(median(mems.map((m) => m.pssFile))))} | ${fmt(MiB(median(mems.map((m) => m.pssShmem))))}`;
  };
  console.log(
    table(
      ['process', ...phases.map(([name]) => name)],
      [...ROLES.filter((r) => r !== 'npm').map((role) => [roleLabel[role], ...phases.map(([, pick]) => split(pick, (s) => s.roles[role]))]), ['total', ...phases.map(([, pick]) => split(pick, (s) => s.total))]],
    ),
  );
  const names = [...new Set(runs.flatMap((r) => phases.flatMap(([, pick]) => Object.keys(pick(r).sessions))))].sort();
  console.log('\nthe PostgreSQL sessions by application_name (pg_stat_activity): PSS | RSS | USS, MiB, median [how many]\n');
  console.log(table(['opened by', ...phases.map(([name]) => name)], names.map((name) => [name, ...phases.map(([, pick]) => cell(pick, (s) => s.sessions[name] ?? { n: 0, ...NO_MEM }))])));
  console.log(
    `\ndemo load: ${spread(runs.map((r) => r.memory.demoRunMs))} ms in the ledger (${spread(runs.map((r) => r.memory.demoLoadMs))} ms from /ready), worker RSS peak ${mibSpread(runs.map((r) => r.memory.demoWorkerPeakRss))} MiB; ` +
      `PSS of it all at completion ${mibSpread(runs.map((r) => r.memory.atCompletion.total.pss))}, peak ${mibSpread(runs.map((r) => r.memory.demoPeakPss))} MiB; ` +
      `${JOBS} countWords: ${spread(runs.map((r) => r.memory.jobsMs))} ms; worker replacements (over its memory limit after a job) per run: ${runs.map((r) => r.memory.workerReplacements).join(', ')}`,
  );

  console.log(`\nstarts: ms from spawning npm start, median (range) of ${runs.length} runs, from the API's log lines (postmaster.pid polled every 5 ms)\n`);
  console.log(
    table(
      ['step', 'fresh folder', 'restart', 'after kill -9 (takeover)'],
      STEP_NAMES.map((name) => [name, ...(['fresh', 'restart', 'takeover'] as const).map((kind) => spread(runs.flatMap((r) => r.starts.filter((s) => s.kind === kind).map((s) => s.steps[name] ?? NaN))))]),
    ),
  );
  console.log(`\nstop (SIGTERM → every process and the server ended): fresh start ${spread(runs.flatMap((r) => r.starts.filter((s) => s.kind === 'restart').map((s) => s.stopMs ?? NaN)))} ms, takeover ${spread(runs.flatMap((r) => r.starts.filter((s) => s.kind === 'takeover').map((s) => s.stopMs ?? NaN)))} ms`);
  if (workers.length) {
    console.log(
      `\nnpm run worker: 'jobgraph started' ${spread(workers.map((w) => w.readyMs))} ms after spawn; PSS ${mibSpread(workers.map((w) => w.worker.pss))} (anon ${mibSpread(workers.map((w) => w.worker.pssAnon))}, file ${mibSpread(workers.map((w) => w.worker.pssFile))}), ` +
        `RSS ${mibSpread(workers.map((w) => w.worker.rss))}, USS ${mibSpread(workers.map((w) => w.worker.uss))} MiB; its npm and sh: PSS ${mibSpread(workers.map((w) => w.npm.pss))} MiB; ` +
        `the API beside it (WORKER_IN_PROCESS=false) PSS ${mibSpread(workers.map((w) => w.beside.roles.api.pss))}, PostgreSQL ${mibSpread(workers.map((w) => serverOf(w.beside).pss))} MiB`,
    );
  }
  if (emb.length) {
    console.log('\nprofileDataset, each run (ms in the ledger; worker RSS MiB when enqueued → peak of 100 ms samples, VmHWM):\n');
    console.log(
      table(
        ['run', 'deployment', 'job', 'backend', 'run ms', 'worker RSS enqueued', 'peak RSS', 'VmHWM', 'samples', 'worker pids', 'replaced after', 'load after'],
        runs.flatMap((r) =>
          r.profiles.map((p) => [r.run, p.deployment, p.job, p.backend, p.runMs, fmt(MiB(p.workerIdleRss)), fmt(MiB(p.peakRss)), fmt(MiB(p.peakHwm)), p.samples, p.workers, p.replaced ? 'yes' : 'no', p.loadavg.join('/')]),
        ),
      ),
    );
  }
}
