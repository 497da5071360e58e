import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedPaths, findEmbeddedPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';
import { Deployment, type ApiProcess, type RunningProcess } from './support/deployment.ts';
import { FAULT_ENV } from './support/env.ts';
import { slowJob } from './support/jobs.ts';
import { startLoad, type LoadOptions } from './support/load.ts';
import { recordRow } from './support/report.ts';
import { sleep } from './support/scenario.ts';
import { countDeadlockLogs, verifyLedger } from './support/verify.ts';
import { postmasterPid, postmasterStatus, postmastersOf, runs } from '../helpers/embedded.ts';

/**
 * The embedded default as users run it: `npm start` with nothing installed. No DATABASE_URL (npm
 * start runs its PostgreSQL in EMBEDDED_DIR), and REDIS_URL on a port nothing listens on, so the
 * queue is pg-boss and the bus LISTEN/NOTIFY, as on a machine without Redis. The faults: npm
 * start kill -9'd (its worker follows, its server stays and is taken over by the next npm start),
 * a separate `npm run worker` kill -9'd, the embedded server itself kill -9'd.
 *
 * The folder is made before the scenario with one Report row, so npm start's first start does
 * not load the demo (100,000 records) beside the load: the suite judges the jobs clients enqueue.
 */
const TAKEOVER = 'embedded PostgreSQL already running in this folder (left by an earlier start): taking it over';
const RESTARTED = 'the embedded PostgreSQL ended: starting it again';

interface Embedded {
  dir: string;
  dataDir: string;
  deployment: Deployment;
  logDir: string;
}

let current: Embedded | undefined;
afterEach(async () => {
  const world = current;
  current = undefined;
  if (!world) return;
  await world.deployment.stopAll();
  // npm start SIGKILLed leaves its server (as it would for a user): stop it by its postmaster.pid.
  const pid = await postmasterPid(world.dataDir);
  if (pid !== undefined && runs(pid)) {
    process.kill(pid, 'SIGINT');
    await waitFor(async () => runs(pid), (up) => !up, 15_000, 'the embedded server to stop').catch(() => process.kill(pid, 'SIGKILL'));
  }
  await rm(dirname(world.dir), { recursive: true, force: true });
  if (!world.dataDir.startsWith(world.dir)) await rm(dirname(world.dataDir), { recursive: true, force: true });
});

/** A made folder (see above) and a deployment of `npm start` / `npm run worker` on it. */
async function embeddedWorld(name: string): Promise<Embedded> {
  const root = await mkdtemp(join(tmpdir(), `jobgraph-faults-embedded-${name.replace(/\W+/g, '-')}-`));
  const dir = join(root, 'jg');
  const { dataDir } = await embeddedPaths(dir);
  // Kept, as the other scenarios' (support/scenario.ts): the folder goes after the test, the logs stay.
  const logDir = join(tmpdir(), 'jobgraph-faults', `${name.replace(/\W+/g, '-')}-${Date.now()}`);
  const deployment = Deployment.create(
    {
      ...FAULT_ENV,
      DATABASE_URL: undefined,
      EMBEDDED_LEDGER_URL: undefined,
      EMBEDDED_PORT: undefined,
      EMBEDDED_DIR: dir,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      QUEUE_BACKEND: 'auto',
      EVENT_BUS: 'auto',
    },
    logDir,
  );
  current = { dir, dataDir, deployment, logDir };
  const server = await startEmbeddedPostgres({ dir });
  try {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query(`INSERT INTO "Report" (id, name, regulation, description) VALUES (gen_random_uuid(), 'fault suite', 'none', 'not the demo')`).finally(() => client.end());
  } finally {
    await server.stop();
  }
  return current;
}





/** The pids of `pid`'s children (from /proc: Linux). */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
  }
  return found;
}

/** Lines of a process's JSON log whose msg is `msg`. */
async function logLines(process: RunningProcess, msg: string): Promise<number> {
  const text = await readFile(process.logPath, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.includes(msg)).length;
}

/** The pids that ran each job's attempts ("running on <host>:<pid>:<tag>"). */
async function runnerPids(url: string, ids: string[]): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ message: string }>(
      `SELECT message FROM "JobEvent" WHERE "jobId" = ANY($1::uuid[]) AND kind = 'STATUS' AND status = 'RUNNING' AND message LIKE 'running on %'`,
      [ids],
    );
    const counts = new Map<number, number>();
    for (const { message } of rows) {
      const pid = Number(message.split(':').at(-2));
      counts.set(pid, (counts.get(pid) ?? 0) + 1);
    }
    return counts;
  } finally {
    await client.end();
  }
}

/**
 * As Scenario.finish, on the embedded ledger: waits for every accepted job, judges the ledger,
 * records the row and asserts nothing accepted was lost, finished twice or left RUNNING.
 */
async function finish(
  world: Embedded,
  name: string,
  accepted: string[],
  logs: RunningProcess[],
  opts: { faultEndedAt: number; notes: string[] },
) {
  const url = await findEmbeddedPostgres(world.dir);
  const verdict = await verifyLedger(url, accepted, { timeoutMs: 60_000 });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client
    .query<{ wait: number | null; last: Date | null }>(
      `SELECT max(extract(epoch FROM "finishedAt" - "createdAt") * 1000)::float8 AS wait,
              max("finishedAt") FILTER (WHERE "createdAt" <= $2::timestamptz) AS last
         FROM "Job" WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'`,
      [accepted, new Date(opts.faultEndedAt)],
    )
    .finally(() => client.end());
  const last = rows[0]?.last;
  const recoveryMs = last ? Math.max(0, last.getTime() - opts.faultEndedAt) : null;
  const longestWaitMs = rows[0]?.wait == null ? null : Math.round(rows[0].wait);
  const notes = [...opts.notes];
  const deadlocks = await countDeadlockLogs(logs.map((p) => p.logPath));
  if (deadlocks > 0) notes.push(`${deadlocks} deadlock log line(s), each statement run again`);
  const reasons = Object.entries(verdict.reasons).map(([code, n]) => `${code} ${n}`);
  if (reasons.length > 0) notes.push(`retried attempts: ${reasons.join(', ')}`);
  if (verdict.lost > 0) notes.push(`not completed: ${JSON.stringify(verdict.statuses)}`);
  recordRow({
    scenario: name,
    backend: 'embedded (pg-boss, LISTEN/NOTIFY; no Redis)',
    accepted: verdict.accepted,
    completed: verdict.completed,
    lost: verdict.lost,
    duplicateTerminal: verdict.duplicateTerminal,
    longestRecoveryMs: recoveryMs,
    longestWaitMs,
    notes: notes.join('; '),
  });
  console.log(JSON.stringify({ scenario: name, ...verdict, recoveryMs, longestWaitMs, notes, logs: world.logDir }));
  expect(verdict.accepted).toBeGreaterThan(0);
  expect(verdict.lost, `lost jobs, e.g. ${verdict.lostSample.join(', ')} (logs in ${world.logDir})`).toBe(0);
  expect(verdict.duplicateTerminal).toBe(0);
  expect(verdict.completedTwice).toBe(0);
  expect(verdict.stuckRunning).toBe(0);
  return { verdict, url };
}

function load(api: () => ApiProcess, opts: Partial<LoadOptions> & { total: number }) {
  return startLoad({ clients: 20, url: () => api().url, mutation: slowJob(100), ...opts });
}

describe('the embedded default (npm start, nothing installed)', () => {
  it('npm start kill -9\'d while jobs run and wait, started again on the same folder: every accepted job completes, its server taken over', async () => {
    const name = 'embedded: npm start SIGKILLed, started again';
    const world = await embeddedWorld(name);
    const apis: ApiProcess[] = [await world.deployment.startApi({ WORKER_IN_PROCESS: 'true' })];
    const api = () => apis.at(-1)!;
    const server = (await postmasterPid(world.dataDir))!;
    const running = load(api, { total: 600, ratePerSecond: 60 });
    await sleep(4_000);
    const worker = (await childrenOf(api().pid)).find((pid) => pid !== server);
    expect(worker, 'the supervised worker').toBeDefined();
    await api().kill('SIGKILL');
    await waitFor(async () => runs(worker!), (up) => !up, 15_000, 'the worker to follow npm start');
    expect(runs(server)).toBe(true); // detached: it outlives npm start
    const killedAt = Date.now();
    apis.push(await world.deployment.startApi({ WORKER_IN_PROCESS: 'true' }));
    const restartMs = Date.now() - killedAt;
    const faultEndedAt = Date.now();
    const result = await running.done;

    expect(await logLines(api(), TAKEOVER)).toBe(1);
    expect(await postmasterPid(world.dataDir)).toBe(server);
    expect(await postmastersOf(world.dataDir)).toEqual([server]);
    // The worker, its parent gone, hands back what it runs if it can within its grace (not counted)
    // or is lost with it (WORKER_LOST, run again once stale): either way each job completes once.
    await finish(world, name, result.accepted, apis, {
      faultEndedAt,
      notes: [`${result.errors} requests failed while no API ran`, `npm start ready again in ${(restartMs / 1_000).toFixed(1)} s, its server taken over (same postmaster)`],
    });
  });

  it('npm run worker beside npm start (WORKER_IN_PROCESS=false) kill -9\'d mid-run, another started: all complete, in those workers', async () => {
    const name = 'embedded: npm run worker SIGKILLed';
    const world = await embeddedWorld(name);
    const api = await world.deployment.startApi({ WORKER_IN_PROCESS: 'false' });
    // `npm run worker` with the same EMBEDDED_DIR and no URL: it finds the server in the folder.
    const first = await world.deployment.startWorker();
    const running = load(() => api, { total: 400, ratePerSecond: 50 });
    await sleep(3_000);
    await first.kill('SIGKILL');
    const faultEndedAt = Date.now();
    const second = await world.deployment.startWorker();
    const result = await running.done;
    const { verdict, url } = await finish(world, name, result.accepted, [api, first, second], {
      faultEndedAt,
      notes: [`${result.errors} refused`, 'API without a worker; workers found the server through EMBEDDED_DIR'],
    });
    expect(result.errors).toBe(0);
    expect(verdict.reasons.WORKER_LOST ?? 0).toBeGreaterThan(0);
    // Every attempt ran in one of the two workers, never in the API, and both ran some.
    const runners = await runnerPids(url, result.accepted);
    expect([...runners.keys()].sort()).toEqual([first.pid, second.pid].sort());
  });

  it('the embedded PostgreSQL kill -9\'d while jobs run: npm start starts it again and every accepted job completes', async () => {
    const name = 'embedded: its PostgreSQL SIGKILLed';
    const world = await embeddedWorld(name);
    const api = await world.deployment.startApi({ WORKER_IN_PROCESS: 'true' });
    const server = (await postmasterPid(world.dataDir))!;
    const running = load(() => api, { total: 500, ratePerSecond: 50 });
    await sleep(4_000);
    process.kill(server, 'SIGKILL');
    const killedAt = Date.now();
    const next = await waitFor(
      async () => ((await postmasterPid(world.dataDir)) !== server && (await postmasterStatus(world.dataDir)) === 'ready' ? await postmasterPid(world.dataDir) : undefined),
      (pid) => pid !== undefined,
      30_000,
      'npm start to start its server again',
    );
    const serverBackMs = Date.now() - killedAt;
    const faultEndedAt = Date.now();
    const result = await running.done;
    expect(await logLines(api, RESTARTED)).toBe(1);
    expect(await postmastersOf(world.dataDir)).toEqual([next]);
    let exited = false;
    void api.exited.then(() => (exited = true));
    await sleep(0);
    expect(exited, 'npm start is still running').toBe(false);
    await finish(world, name, result.accepted, [api], {
      faultEndedAt,
      notes: [`${result.errors} requests failed while the server was down`, `server running again ${(serverBackMs / 1_000).toFixed(1)} s after the kill`],
    });
  });
});
