// Start-up: from spawning `npm start` embedded (no DATABASE_URL, REDIS_URL on a closed port, a
// fresh EMBEDDED_DIR, a free PORT) to /ready answering 200, and its idle RSS once ready; 3 runs on
// fresh folders, each followed by a second start on the same folder (its server started again),
// and the same warm start without npm (`node src/main.ts`, what npm start runs) to show what the
// wrapper costs. Log timestamps split each start into its steps. Then memory, per process of the
// start (the API, the worker it supervises, and the embedded PostgreSQL: its postmaster and
// backends together, by PSS so that their shared memory counts once) and in all: RSS idle once the
// first start's demo load is done, and after 1,000 jobs enqueued over HTTP (enqueueJobs) have
// completed, beside the RSS of an empty script on the same node binary,
// with NODE_OPTIONS variants (BENCH_STARTUP_NODE_OPTIONS, `|`-separated). BENCH_STARTUP_COMPARE=<dir>
// (another checkout, e.g. the commit before, with node_modules linked) runs its starts alternately
// with this one's, side by side.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { readlinkSync } from 'node:fs';
import {
  envInt,
  freePort,
  graphql,
  groupMembers,
  keepAliveAgent,
  machineInfo,
  median,
  printMachine,
  readyStatus,
  ROOT,
  runMain,
  sleep,
  spawnTs,
  stopLeftServer,
  table,
  tempDir,
  track,
  treeOf,
  until,
  verdict,
  writeResult,
} from './lib.ts';

const RUNS = envInt('BENCH_STARTUP_RUNS', 3);
const READY_TIMEOUT_MS = envInt('BENCH_STARTUP_TIMEOUT_MS', 60_000);
const JOBS = 1_000;
const COMPARE = process.env.BENCH_STARTUP_COMPARE || undefined;
const NODE_OPTION_VARIANTS = (process.env.BENCH_STARTUP_NODE_OPTIONS ?? '|--max-semi-space-size=1').split('|');

interface Start {
  kind: string;
  run: number;
  readyMs: number;
  /** Milliseconds from spawn to each step, from the process's own log lines. */
  steps: Record<string, number>;
  /** RSS of the process that serves (the node running src/main.ts), MiB, 2 s after ready. */
  serverRssMiB: number;
  /** RSS of every process of the start (npm, sh, the API, its worker, the embedded server's processes), MiB. */
  treeRssMiB: number;
  /** What `measure` found, when given. */
  extra?: Record<string, number>;
}

/** RSS (and its anonymous and file-backed parts) of one process, MiB. */
function rssOf(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const mib = (value: number) => Math.round((value / 1024) * 10) / 10;
  return { rss: mib(kib('VmRSS')), anon: mib(kib('RssAnon')), file: mib(kib('RssFile')) };
}

const STEP_MESSAGES: [RegExp, string][] = [
  [/^embedded ledger created and started$/, 'embedded server up (fresh folder)'],
  [/^ledger database open$/, 'ledger open'],
  [/^queue backend: /, 'backend chosen'],
  [/^jobgraph started$/, 'job system started'],
  [/^jobgraph API ready/, 'listening'],
];

/** The processes of one start by role, from their command lines: the API (src/main.ts), its worker, the embedded server's postmaster. */
function rolesOf(root: number): Record<'api' | 'worker' | 'ledger', number | undefined> {
  const roles: Record<'api' | 'worker' | 'ledger', number | undefined> = { api: undefined, worker: undefined, ledger: undefined };
  for (const { pid } of treeOf(root)) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    // The postmaster keeps its command line (its backends show a title instead).
    if (/^(\S*\/)?postgres\0-D\0/.test(cmdline)) {
      roles.ledger ??= pid;
      continue;
    }
    if (!cmdline.startsWith(process.execPath) && !/^(\S*\/)?node\0/.test(cmdline)) continue; // npm's sh -c
    // The code before ran under the tsx CLI, whose node child is the server: the larger one wins.
    if (cmdline.includes('src/main.ts')) roles.api = roles.api !== undefined && rssOf(roles.api).rss > rssOf(pid).rss ? roles.api : pid;
    else if (cmdline.includes('worker.ts')) roles.worker ??= pid;
  }
  return roles;
}

async function startOnce(
  kind: 'npm start' | 'node src/main.ts',
  dir: string,
  run: number,
  opts: { root?: string; nodeOptions?: string; measure?: (port: number, rootPid: number) => Promise<Record<string, number>> } = {},
): Promise<Start> {
  const root = opts.root ?? ROOT;
  const measure = opts.measure;
  const port = await freePort();
  const closed = await freePort(); // nothing listens there: Redis is "down"
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const key of ['DATABASE_URL', 'QUEUE_BACKEND', 'EVENT_BUS', 'QUEUE_NAME', 'API_TOKENS', 'EMBEDDED_DIR', 'EMBEDDED_PORT', 'EMBEDDED_LEDGER_URL']) delete env[key];
  Object.assign(env, {
    REDIS_URL: `redis://127.0.0.1:${closed}`,
    EMBEDDED_DIR: join(dir, 'jobgraph'),
    // A checkout from before the embedded PostgreSQL (BENCH_STARTUP_COMPARE) kept its PGlite ledger there.
    ...(root === ROOT ? {} : { PGLITE_DIR: join(dir, 'pgdata') }),
    PORT: String(port),
    LOG_LEVEL: 'info',
    PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${env.PATH ?? ''}`,
  });
  if (opts.nodeOptions) env.NODE_OPTIONS = opts.nodeOptions;
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const proc =
    kind === 'npm start'
      ? spawn('npm', ['start', '--silent'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] })
      : // The code before this one ran its sources through tsx, not Node's type stripping.
        spawn(process.execPath, [...(root === ROOT ? [] : ['--import', 'tsx']), 'src/main.ts'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  const child = track(proc);
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid, signal); // the process group of the start we spawned, and only it
    } catch {
      /* already gone */
    }
  };
  try {
    let readyMs = NaN;
    const deadline = t0 + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`${kind} exited (${proc.exitCode}) before ready: ${child.lines.slice(-3).join(' / ')}`);
      if ((await readyStatus(port)) === 200) {
        readyMs = performance.now() - t0;
        break;
      }
      await sleep(10);
    }
    if (!Number.isFinite(readyMs)) throw new Error(`${kind}: /ready did not answer 200 within ${READY_TIMEOUT_MS} ms`);
    await sleep(2_000);
    const tree = treeOf(child.pid);
    // The server is the API process (src/main.ts); before the worker left it, also the biggest.
    const apiPid = rolesOf(child.pid).api;
    const server = tree.find((p) => p.pid === apiPid) ?? [...tree].sort((a, b) => b.rssKiB - a.rssKiB)[0]!;
    const extra = measure ? await measure(port, child.pid) : undefined;
    const steps: Record<string, number> = {};
    for (const line of child.lines) {
      try {
        const entry = JSON.parse(line) as { time?: number; msg?: string };
        if (typeof entry.time !== 'number' || typeof entry.msg !== 'string') continue;
        steps['first log line'] ??= entry.time - spawnedAt;
        for (const [pattern, name] of STEP_MESSAGES) if (pattern.test(entry.msg)) steps[name] ??= entry.time - spawnedAt;
      } catch {
        /* not a log line */
      }
    }
    return {
      kind,
      run,
      readyMs: Math.round(readyMs),
      steps,
      serverRssMiB: Math.round((server.rssKiB / 1024) * 10) / 10,
      treeRssMiB: Math.round((tree.reduce((a, p) => a + p.rssKiB, 0) / 1024) * 10) / 10,
      ...(extra ? { extra } : {}),
    };
  } finally {
    killGroup('SIGTERM');
    const exited = new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
    const timer = setTimeout(() => killGroup('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    // The server is a grandchild: wait until the whole group is gone, so the next run starts clean.
    for (let i = 0; i < 150 && treeOf(child.pid).length + groupMembers(child.pid) > 0; i++) await sleep(100);
    if (groupMembers(child.pid) > 0) killGroup('SIGKILL');
    await child.stop(1_000);
    // The embedded server runs detached, outside the group: one a killed start left is stopped here.
    await stopLeftServer(join(dir, 'jobgraph'));
  }
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * Once ready: waits for the jobs already there (the first start's demo load) to end, reads the
 * server's RSS idle, enqueues 1,000 demo.countWords jobs in one enqueueJobs call, waits until all
 * have ended, and reads it again.
 */
async function memoryAfterJobs(port: number, rootPid: number): Promise<Record<string, number>> {
  const agent = keepAliveAgent(2);
  const baseUrl = `http://127.0.0.1:${port}`;
  const counts = async () =>
    (await graphql<{ queueInfo: { jobCounts: { status: string; type: string; count: number }[] } }>(agent, baseUrl, '{ queueInfo { jobCounts { status type count } } }'))
      .queueInfo.jobCounts;
  try {
    let t = performance.now();
    await until(async () => (await counts()).every((c) => TERMINAL.has(c.status)), 300_000, 'the jobs already queued (demo load)', 250);
    const waitMs = performance.now() - t;
    await sleep(2_000);
    const idle = rolesRss(rootPid);
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ type: 'demo.countWords', input: { text: `job ${i}`, chunkSize: 2 } }));
    t = performance.now();
    await graphql(agent, baseUrl, 'mutation ($jobs: [EnqueueJobInput!]!) { enqueueJobs(jobs: $jobs) { job { id } } }', { jobs });
    const ended = async () => (await counts()).filter((c) => c.type === 'demo.countWords' && TERMINAL.has(c.status)).reduce((a, c) => a + c.count, 0);
    await until(async () => (await ended()) >= JOBS, 300_000, `${JOBS} jobs ended`, 100);
    const jobsMs = performance.now() - t;
    const completed = (await counts()).find((c) => c.type === 'demo.countWords' && c.status === 'COMPLETED')?.count ?? 0;
    if (completed !== JOBS) throw new Error(`${JOBS - completed} of ${JOBS} jobs did not complete`);
    await sleep(2_000);
    const after = rolesRss(rootPid);
    const roles = rolesOf(rootPid);
    const peak = (pid: number | undefined) => (pid === undefined ? NaN : Math.round(Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 102.4) / 10);
    if (roles.api !== undefined) serverExe ??= readlinkSync(`/proc/${roles.api}/exe`);
    return {
      waitMs: Math.round(waitMs),
      jobsMs: Math.round(jobsMs),
      ...Object.fromEntries(Object.entries(idle).map(([role, rss]) => [`idle.${role}`, rss])),
      ...Object.fromEntries(Object.entries(after).map(([role, rss]) => [`after.${role}`, rss])),
      'peak.api': peak(roles.api),
      'peak.worker': peak(roles.worker),
    };
  } finally {
    agent.destroy();
  }
}

let serverExe: string | undefined;

/** RSS (MiB) of the API and the worker of a start, PSS of the embedded server's processes, and their sum. */
function rolesRss(rootPid: number): Record<'api' | 'worker' | 'ledger' | 'all', number> {
  const roles = rolesOf(rootPid);
  const of = (pid: number | undefined) => (pid === undefined ? 0 : rssOf(pid).rss);
  const figures = { api: of(roles.api), worker: of(roles.worker), ledger: roles.ledger === undefined ? 0 : treePssMiB(roles.ledger) };
  return { ...figures, all: Math.round((figures.api + figures.worker + figures.ledger) * 10) / 10 };
}

/** PSS (shared memory counted once) of a process and everything under it, MiB. */
function treePssMiB(root: number): number {
  let kib = 0;
  for (const { pid } of treeOf(root)) {
    try {
      kib += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return Math.round((kib / 1024) * 10) / 10;
}

/** RSS of `node -e 'setInterval(() => {}, 1000)'` on the server's own node binary, MiB. */
async function emptyNodeRss(exe: string): Promise<{ rss: number; anon: number; file: number }> {
  const child = track(spawn(exe, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  try {
    await sleep(2_000);
    return rssOf(child.pid);
  } finally {
    await child.stop(1_000);
  }
}

const range = (values: number[]) => `${median(values)} (${Math.min(...values)}–${Math.max(...values)})`;

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(`start-up: ${RUNS} runs of npm start embedded (its PostgreSQL, Redis port closed), fresh folder then the same folder again\n`);
  const starts: Start[] = [];
  const checkouts: [string, string][] = [[ROOT, ''], ...(COMPARE ? [[COMPARE, ` [${COMPARE}]`] as [string, string]] : [])];
  for (let run = 1; run <= RUNS; run++) {
    const dir = await tempDir('jobgraph-bench-start-');
    try {
      for (const [root, suffix] of checkouts) {
        await rm(dir, { recursive: true, force: true });
        for (const [kind, label] of [
          ['npm start', 'npm start, fresh dir'],
          ['npm start', 'npm start, migrated dir'],
          ['node src/main.ts', 'node src/main.ts, migrated dir'],
        ] as const) {
          const start = { ...(await startOnce(kind, dir, run, { root })), kind: label + suffix };
          starts.push(start);
          console.log(`  run ${run}, ${label + suffix}: ready in ${start.readyMs} ms, server RSS ${start.serverRssMiB} MiB`);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  // Memory: a fresh dir each, npm start, the demo load, then 1,000 jobs.
  console.log(`\nmemory: ${RUNS} runs of npm start on a fresh dir, idle after the demo load, then ${JOBS} jobs; NODE_OPTIONS variants ${JSON.stringify(NODE_OPTION_VARIANTS)}\n`);
  const memory: { label: string; run: number; figures: Record<string, number> }[] = [];
  const empty: { rss: number; anon: number; file: number }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    for (const [root, suffix] of checkouts) {
      for (const nodeOptions of NODE_OPTION_VARIANTS) {
        const dir = await tempDir('jobgraph-bench-memory-');
        try {
          const label = `npm start${nodeOptions ? `, NODE_OPTIONS=${nodeOptions}` : ''}${suffix}`;
          const start = await startOnce('npm start', dir, run, { root, nodeOptions, measure: memoryAfterJobs });
          memory.push({ label, run, figures: start.extra! });
          console.log(`  run ${run}, ${label}: ${JSON.stringify(start.extra)}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    if (serverExe) empty.push(await emptyNodeRss(serverExe));
  }
  // The same steps timed one by one inside one process.
  const stepRuns: {
    steps: Record<string, number>;
    rss: Record<string, number>;
    memory: Record<string, Record<string, number>>;
    parts: Record<string, number>;
  }[] = [];
  const readyRuns: typeof stepRuns = [];
  for (let run = 1; run <= RUNS; run++) {
    const dir = await tempDir('jobgraph-bench-steps-');
    const closed = await freePort();
    try {
      for (const mode of ['all', 'ready-only'] as const) {
        const child = spawnTs('./startup-steps.ts', { REDIS_URL: `redis://127.0.0.1:${closed}`, DATABASE_URL: undefined }, ['--expose-gc'], [join(dir, mode), mode]);
        const line = await child.waitFor(/^steps (.*)$/, READY_TIMEOUT_MS, 'startup steps');
        (mode === 'all' ? stepRuns : readyRuns).push(JSON.parse(line[1]!) as (typeof stepRuns)[number]);
        await child.stop(5_000);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const kinds = [...new Set(starts.map((s) => s.kind))];
  const stepNames = ['first log line', ...STEP_MESSAGES.map(([, name]) => name)];
  console.log(
    '\n' +
      table(
        ['start', 'ready ms (each run)', 'median ms', 'API RSS MiB (median)', 'all processes RSS MiB (median)', 'target fresh ≤ 1500 ms'],
        kinds.map((kind) => {
          const of = starts.filter((s) => s.kind === kind);
          const med = median(of.map((s) => s.readyMs));
          return [
            kind,
            of.map((s) => s.readyMs).join(', '),
            med,
            median(of.map((s) => s.serverRssMiB)).toFixed(1),
            median(of.map((s) => s.treeRssMiB)).toFixed(1),
            kind.startsWith('npm start, fresh') ? verdict(med <= 1500) : '',
          ];
        }),
      ),
  );
  console.log('\nwhere the time goes (median ms from spawn, from the log lines):\n');
  console.log(
    table(
      ['start', ...stepNames, '/ready 200'],
      kinds.map((kind) => {
        const of = starts.filter((s) => s.kind === kind);
        return [kind, ...stepNames.map((name) => median(of.map((s) => s.steps[name] ?? NaN).filter(Number.isFinite))), median(of.map((s) => s.readyMs))];
      }),
    ),
  );
  console.log(`\nmemory, MiB, median (range) of ${RUNS} runs, per process of npm start; an empty script on the same node (${serverExe}) beside:\n`);
  const labels = [...new Set(memory.map((m) => m.label))];
  const col = (of: typeof memory, key: string) => range(of.map((m) => m.figures[key] ?? NaN));
  const rows: (string | number)[][] = [];
  for (const label of labels) {
    const of = memory.filter((m) => m.label === label);
    for (const role of ['api', 'worker', 'ledger', 'all'] as const) {
      rows.push([
        `${label}: ${role === 'all' ? 'all three' : role === 'ledger' ? 'embedded PostgreSQL (PSS, all its processes)' : role}`,
        col(of, `idle.${role}`),
        col(of, `after.${role}`),
        role === 'all' || role === 'ledger' ? '' : col(of, `peak.${role}`),
        role === 'all' ? col(of, 'jobsMs') : '',
        role === 'all' ? verdict(median(of.map((m) => Math.max(m.figures[`idle.${role}`] ?? NaN, m.figures[`after.${role}`] ?? NaN))) <= 250) : '',
      ]);
    }
  }
  rows.push(["node -e 'setInterval(()=>{},1000)'", range(empty.map((e) => e.rss)), '', '', '', '']);
  console.log(table(['process', 'RSS idle', `RSS after ${JOBS} jobs`, 'peak (VmHWM)', `${JOBS} jobs ms`, 'target ≤ 250 (idle and after)'], rows));
  const stepKeys = Object.keys(stepRuns[0]?.steps ?? {});
  console.log('\nthe steps one by one, in one process (node --import tsx bench/startup-steps.ts; median of each):\n');
  console.log(
    table(
      ['step', 'ms (each run)', 'median ms', 'RSS after, MiB (median)', 'heapUsed', 'external', 'arrayBuffers'],
      stepKeys.map((key) => [
        key,
        stepRuns.map((r) => r.steps[key]).join(', '),
        median(stepRuns.map((r) => r.steps[key] ?? NaN)),
        ...(['rss', 'heapUsed', 'external', 'arrayBuffers'] as const).map((part) =>
          key in (stepRuns[0]?.memory ?? {}) ? median(stepRuns.map((r) => r.memory[key]?.[part] ?? NaN)) : '',
        ),
      ]),
    ),
  );
  console.log('\nwhere the memory of a ready start goes (startup-steps.ts ready-only: a fresh folder, JobSystem.start, API; after a GC; MiB, median; embeddedServerPss: the server\'s processes):\n');
  const partKeys = Object.keys(readyRuns[0]?.parts ?? {});
  console.log(table(partKeys, [partKeys.map((key) => range(readyRuns.map((r) => r.parts[key] ?? NaN)))]));
  await writeResult('startup', { machine, params: { runs: RUNS, jobs: JOBS, compare: COMPARE, nodeOptions: NODE_OPTION_VARIANTS }, starts, memory, emptyNode: empty, steps: stepRuns, ready: readyRuns });
}

runMain(main);
