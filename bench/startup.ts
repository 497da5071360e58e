// Start-up: from spawning `npm start` embedded (no DATABASE_URL, REDIS_URL on a closed port, a
// fresh PGLITE_DIR, a free PORT) to /ready answering 200, and its idle RSS once ready; 3 runs on
// fresh directories, each followed by a second start on the same (already migrated) directory,
// and the same warm start without npm and the tsx CLI (`node --import tsx src/main.ts`) to show
// what the wrappers cost. Log timestamps split each start into its steps.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { envInt, freePort, machineInfo, median, printMachine, ROOT, runMain, sleep, spawnTs, table, track, verdict, writeResult } from './lib.ts';

const RUNS = envInt('BENCH_STARTUP_RUNS', 3);
const READY_TIMEOUT_MS = envInt('BENCH_STARTUP_TIMEOUT_MS', 60_000);

interface Start {
  kind: string;
  run: number;
  readyMs: number;
  /** Milliseconds from spawn to each step, from the process's own log lines. */
  steps: Record<string, number>;
  /** RSS of the process that serves (the node running src/main.ts), MiB, 2 s after ready. */
  serverRssMiB: number;
  /** RSS of every process of the start (npm, sh, the tsx CLI, the server), MiB. */
  treeRssMiB: number;
}

/** pid → ppid and RSS (KiB) of every process. */
function processTable(): Map<number, { ppid: number; rssKiB: number; comm: string }> {
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

function treeOf(root: number): { pid: number; rssKiB: number; depth: number; comm: string }[] {
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

function readyStatus(port: number): Promise<number> {
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

const STEP_MESSAGES: [RegExp, string][] = [
  [/^ledger database open$/, 'ledger open (PGlite + migrations)'],
  [/^queue backend: /, 'backend chosen'],
  [/^jobgraph started$/, 'job system started'],
  [/^jobgraph API ready/, 'listening'],
];

async function startOnce(kind: 'npm start' | 'node --import tsx', dir: string, run: number): Promise<Start> {
  const port = await freePort();
  const closed = await freePort(); // nothing listens there: Redis is "down"
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  for (const key of ['DATABASE_URL', 'QUEUE_BACKEND', 'EVENT_BUS', 'QUEUE_NAME', 'API_TOKENS']) delete env[key];
  Object.assign(env, {
    REDIS_URL: `redis://127.0.0.1:${closed}`,
    PGLITE_DIR: join(dir, 'pgdata'),
    PORT: String(port),
    LOG_LEVEL: 'info',
    PATH: `${join(ROOT, 'node_modules', '.bin')}${delimiter}${env.PATH ?? ''}`,
  });
  const spawnedAt = Date.now();
  const t0 = performance.now();
  const proc =
    kind === 'npm start'
      ? spawn('npm', ['start', '--silent'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
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
    const server = [...tree].sort((a, b) => b.depth - a.depth)[0]!;
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
  }
}

/** How many processes are still in process group `pgid`. */
function groupMembers(pgid: number): number {
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

async function main(): Promise<void> {
  const machine = await machineInfo();
  printMachine(machine);
  console.log(`start-up: ${RUNS} runs of npm start embedded (PGlite, Redis port closed), fresh dir then the same dir again\n`);
  const starts: Start[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-bench-start-'));
    try {
      for (const [kind, label] of [
        ['npm start', 'npm start, fresh dir'],
        ['npm start', 'npm start, migrated dir'],
        ['node --import tsx', 'node --import tsx src/main.ts, migrated dir'],
      ] as const) {
        const start = { ...(await startOnce(kind, dir, run)), kind: label };
        starts.push(start);
        console.log(`  run ${run}, ${label}: ready in ${start.readyMs} ms, server RSS ${start.serverRssMiB} MiB`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  // The same steps timed one by one inside one process.
  const stepRuns: { steps: Record<string, number>; rss: Record<string, number> }[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-bench-steps-'));
    const closed = await freePort();
    try {
      const child = spawnTs('./startup-steps.ts', { REDIS_URL: `redis://127.0.0.1:${closed}`, DATABASE_URL: undefined }, [], [dir]);
      const line = await child.waitFor(/^steps (.*)$/, READY_TIMEOUT_MS, 'startup steps');
      stepRuns.push(JSON.parse(line[1]!) as (typeof stepRuns)[number]);
      await child.stop(5_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const kinds = [...new Set(starts.map((s) => s.kind))];
  const stepNames = ['first log line', ...STEP_MESSAGES.map(([, name]) => name)];
  console.log(
    '\n' +
      table(
        ['start', 'ready ms (each run)', 'median ms', 'server RSS MiB (median)', 'all processes RSS MiB (median)', 'target ≤ 3000 ms'],
        kinds.map((kind) => {
          const of = starts.filter((s) => s.kind === kind);
          const med = median(of.map((s) => s.readyMs));
          return [
            kind,
            of.map((s) => s.readyMs).join(', '),
            med,
            median(of.map((s) => s.serverRssMiB)).toFixed(1),
            median(of.map((s) => s.treeRssMiB)).toFixed(1),
            kind.startsWith('npm start') ? verdict(med <= 3000) : '',
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
  const stepKeys = Object.keys(stepRuns[0]?.steps ?? {});
  console.log('\nthe steps one by one, in one process (node --import tsx bench/startup-steps.ts; median of each):\n');
  console.log(
    table(
      ['step', 'ms (each run)', 'median ms', 'RSS after, MiB (median)'],
      stepKeys.map((key) => [
        key,
        stepRuns.map((r) => r.steps[key]).join(', '),
        median(stepRuns.map((r) => r.steps[key] ?? NaN)),
        key in (stepRuns[0]?.rss ?? {}) ? median(stepRuns.map((r) => r.rss[key] ?? NaN)) : '',
      ]),
    ),
  );
  await writeResult('startup', { machine, params: { runs: RUNS }, starts, steps: stepRuns });
}

runMain(main);
