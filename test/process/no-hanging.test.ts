/**
 * `npm start` as a newcomer runs it: the API's event loop runs no task. Its worker is a process of
 * its own that it supervises (and starts again when it dies), and embedded (no DATABASE_URL) the
 * ledger is a PostgreSQL it starts in EMBEDDED_DIR, a third process, which it starts again if it
 * ends and stops last. A client probing the API every 50 ms while profileDataset and executeTests
 * run on the demo data keeps getting answers; the jobs run in another process.
 * (bench/api-latency.ts measures the same against its targets, side by side with the code before.)
 *
 * Each test stops what it started: npm start by SIGTERM (which stops its embedded server), and
 * the embedded server by its postmaster.pid when npm start did not (killed, or failed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedPaths } from '../../src/db/embedded-postgres.ts';
import { demoIds, gql, preparePhases, probeDuringLongTasks, PROBE_QUERY, waitForCompletion } from '../helpers/api-probe.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/ports.ts';
import { REDIS_URL, uniqueName, waitFor, withTimeout } from '../helpers/system.ts';
import { postmasterPid, runs } from '../helpers/embedded.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/**
 * An EMBEDDED_DIR of the test's own (<tmp>/jg) and the env of `npm start` with nothing installed:
 * no DATABASE_URL, a Redis that is not there. After the test its server is killed if npm start
 * left it running, and the folder (and, as root, its cluster under /var/lib/jobgraph) removed.
 */
async function embeddedFolder(extra: Record<string, string> = {}): Promise<{ dir: string; dataDir: string; env: Record<string, string> }> {
  const dir = join(await mkdtemp(join(tmpdir(), 'jobgraph-no-hanging-')), 'jg');
  const { dataDir } = await embeddedPaths(dir);
  cleanups.push(async () => {
    const pid = await postmasterPid(dataDir);
    if (pid !== undefined && runs(pid)) {
      process.kill(pid, 'SIGINT'); // fast shutdown
      await waitFor(async () => runs(pid), (up) => !up, 10_000, 'the embedded server to stop').catch(() => process.kill(pid, 'SIGKILL'));
    }
    await rm(dirname(dir), { recursive: true, force: true });
    if (!dataDir.startsWith(dir)) await rm(dirname(dataDir), { recursive: true, force: true });
  });
  return { dir, dataDir, env: { EMBEDDED_DIR: dir, REDIS_URL: `redis://127.0.0.1:${await freePort()}`, ...extra } };
}



/** The value at quantile `q` of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

/** `npm start` (node src/main.ts, as package.json runs it); resolves once /ready answers 200. */
async function npmStart(env: Record<string, string | undefined>): Promise<{ api: ChildProcess; url: string }> {
  const port = await freePort();
  const merged: Record<string, string | undefined> = { ...process.env, DATABASE_URL: undefined, LOG_LEVEL: 'warn', ...env, PORT: String(port) };
  const api = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    env: Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  cleanups.push(async () => {
    if (api.exitCode !== null || api.signalCode !== null) return;
    api.kill('SIGTERM');
    await once(api, 'exit');
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    () => fetch(`${url}/ready`).then((r) => r.status, () => 0),
    (status) => status === 200,
    60_000,
    'npm start to be ready',
  );
  return { api, url };
}

/** The pid of the process that ran a job, from its "running on <host>:<pid>:<tag>" event. */
async function runnerPid(url: string, id: string): Promise<number> {
  const { job } = await gql<{ job: { events: { status: string; message: string | null }[] } }>(url, 'query($id: ID!) { job(id: $id) { events { status message } } }', { id });
  const running = job.events.filter((e) => e.status === 'RUNNING' && e.message?.startsWith('running on '));
  return Number(running.at(-1)!.message!.split(':').at(-2));
}

/** The pids of `pid`'s children (from /proc: Linux). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start, embedded (no DATABASE_URL, no Redis)', () => {
  it('answers every 50 ms probe while profileDataset and executeTests run on the demo data, in another process', async () => {
    const { env } = await embeddedFolder();
    const { api, url } = await npmStart(env);
    // The first start loads the demo (100,000 records) as a job.
    const ids = await waitFor(() => demoIds(url), (found) => found !== undefined, 120_000, 'the demo data');
    await preparePhases(url, ids!);

    const { probes, profile, tests } = await probeDuringLongTasks(url, ids!, [PROBE_QUERY, '{ __typename }']);
    const [info, bare] = probes.map((p) => ({ ...p, max: Math.max(...p.latencies), p99: quantile(p.latencies, 0.99) }));
    // The targets, embedded: p99 ≤ 50 ms, max ≤ 100 ms (printed; the bounds below leave room).
    console.log(JSON.stringify({
      embeddedLatencyMs: Object.fromEntries(
        ([['queueInfo', info!], ['__typename', bare!]] as const).map(([name, p]) => [name, { n: p.latencies.length, p50: Math.round(quantile(p.latencies, 0.5)), p99: Math.round(p.p99), max: Math.round(p.max), failures: p.failures }]),
      ),
      profileMs: profile.runMs,
      testsMs: tests.runMs,
    }));
    // The code before answered 9 probes in the whole run, the slowest after 5.7 s. Bounds with
    // room for a busy CI machine; the bench holds the targets (p99 ≤ 100 ms, max ≤ 250 ms).
    expect(bare!.failures + info!.failures).toBe(0);
    expect(bare!.latencies.length).toBeGreaterThan(50);
    expect(bare!.max).toBeLessThan(1_000);
    expect(info!.max).toBeLessThan(1_500);

    // Run by the worker process, never by the API's (the worker may since have been replaced:
    // profiling grows it past WORKER_MAX_MEMORY_MB).
    for (const job of [profile, tests]) expect(await runnerPid(url, job.id)).not.toBe(api.pid);
    // Its waits alone (the demo load, the phases, the long tasks) can pass the 60 s default.
  }, 300_000);
});

describe('npm start with PostgreSQL and Redis', () => {
  it('runs jobs in a worker process it supervises, and starts that process again when it dies', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const { api, url } = await npmStart({ DATABASE_URL: database.url, REDIS_URL, QUEUE_NAME: uniqueName('nohang'), SHUTDOWN_TIMEOUT_MS: '2000', STALE_AFTER_MS: '5000', HEARTBEAT_MS: '1000' });
    const countWords = (pauseMs: number) =>
      gql<{ countWords: { job: { id: string } } }>(url, 'mutation($pauseMs: Int) { countWords(input: { text: "a b c d", chunkSize: 1, pauseMs: $pauseMs }) { job { id } } }', { pauseMs });

    const first = await waitForCompletion(url, (await countWords(0)).countWords.job.id, 30_000);
    const worker = await runnerPid(url, first.id);
    expect(worker).not.toBe(api.pid);

    // The worker dies hard mid-job: the API keeps answering, a new worker process takes over.
    const { id } = (await countWords(2_000)).countWords.job;
    await waitFor(() => gql<{ job: { status: string } }>(url, 'query($id: ID!) { job(id: $id) { status } }', { id }), (r) => r.job.status === 'RUNNING', 30_000, 'RUNNING');
    process.kill(worker, 'SIGKILL');
    expect(await gql(url, '{ __typename }')).toEqual({ __typename: 'Query' });
    const next = await waitForCompletion(url, (await countWords(0)).countWords.job.id, 60_000);
    const replacement = await runnerPid(url, next.id);
    expect(replacement).not.toBe(worker);
    expect(replacement).not.toBe(api.pid);
    // The job it held is run again once its heartbeat is stale (STALE_AFTER_MS), by the new worker.
    const rerun = await waitForCompletion(url, id, 90_000);
    expect(rerun.result).toMatchObject({ words: 4 });
  });
});

describe('npm start, when a job left its worker over WORKER_MAX_MEMORY_MB', () => {
  it('replaces the worker process once the job has ended, and runs nothing twice', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    // Every worker holds more than 64 MiB: each one is replaced after its first job.
    const { api, url } = await npmStart({ DATABASE_URL: database.url, REDIS_URL, QUEUE_NAME: uniqueName('recycle'), WORKER_MAX_MEMORY_MB: '64' });
    const countWords = async () =>
      (await gql<{ countWords: { job: { id: string } } }>(url, 'mutation { countWords(input: { text: "a b c", chunkSize: 1, pauseMs: 300 }) { job { id } } }')).countWords.job.id;
    const first = await waitForCompletion(url, await countWords(), 30_000);
    const replaced = await runnerPid(url, first.id);
    await waitFor(async () => alive(replaced), (up) => !up, 30_000, 'the grown worker to exit');
    const second = await waitForCompletion(url, await countWords(), 30_000);
    const replacement = await runnerPid(url, second.id);
    expect([replaced, api.pid]).not.toContain(replacement);
    const { job } = await gql<{ job: { attempt: number; events: { status: string }[] } }>(url, 'query($id: ID!) { job(id: $id) { attempt events { status } } }', { id: first.id });
    expect(job.attempt).toBe(1);
    expect(job.events.filter((e) => e.status === 'RUNNING').length).toBeGreaterThan(0);
    expect(first.result).toMatchObject({ words: 3 });
  });
});

describe('npm start, embedded, when its worker dies mid-job', () => {
  it('runs the job again in the new worker once its heartbeat is stale (other workers may share the ledger)', async () => {
    const { env } = await embeddedFolder({ STALE_AFTER_MS: '5000', HEARTBEAT_MS: '1000' });
    const { api, url } = await npmStart(env);
    const { countWords } = await gql<{ countWords: { job: { id: string } } }>(url, 'mutation { countWords(input: { text: "a b c d", chunkSize: 1, pauseMs: 2000 }) { job { id } } }');
    const id = countWords.job.id;
    await waitFor(() => gql<{ job: { status: string } }>(url, 'query($id: ID!) { job(id: $id) { status } }', { id }), (r) => r.job.status === 'RUNNING', 60_000, 'RUNNING');
    const dead = await runnerPid(url, id);
    process.kill(dead, 'SIGKILL');
    const started = Date.now();
    await waitForCompletion(url, id, 90_000);
    // STALE_AFTER_MS (5 s here) and the job's 8 s of pauses; on a busy machine (a full process
    // run) once 60 s and more, so the bound leaves room: what is asserted is that it comes back.
    expect(Date.now() - started).toBeLessThan(90_000);
    const { job } = await gql<{ job: { attempt: number } }>(url, 'query($id: ID!) { job(id: $id) { attempt } }', { id });
    expect(job.attempt).toBe(2);
    expect([dead, api.pid]).not.toContain(await runnerPid(url, id));
  }, 150_000);
});

describe('npm start, embedded, killed', () => {
  it('takes its worker with it; the server it leaves is taken over by the next npm start, which stops it on SIGTERM', async () => {
    const { dataDir, env } = await embeddedFolder();
    const first = await npmStart(env);
    const { countWords } = await gql<{ countWords: { job: { id: string } } }>(first.url, 'mutation { countWords(input: { text: "a b c", chunkSize: 1 }) { job { id } } }');
    await waitForCompletion(first.url, countWords.job.id, 60_000);
    const server = (await postmasterPid(dataDir))!;
    const children = childrenOf(first.api.pid!);
    expect(children.sort()).toEqual([server, await runnerPid(first.url, countWords.job.id)].sort()); // the server and the worker
    const worker = children.find((pid) => pid !== server)!;
    first.api.kill('SIGKILL');
    await waitFor(async () => runs(worker), (up) => !up, 15_000, 'the worker to end with its parent');
    expect(runs(server)).toBe(true); // detached: the ledger outlives npm start

    const started = Date.now();
    const second = await npmStart(env);
    const restartMs = Date.now() - started;
    expect(await postmasterPid(dataDir)).toBe(server); // taken over, not a second server
    const { job } = await gql<{ job: { status: string } }>(second.url, 'query($id: ID!) { job(id: $id) { status } }', { id: countWords.job.id });
    expect(job.status).toBe('COMPLETED');
    // A job of this start: its worker is up (a SIGTERM while it starts is a start that failed).
    const { countWords: after } = await gql<{ countWords: { job: { id: string } } }>(second.url, 'mutation { countWords(input: { text: "a b", chunkSize: 1 }) { job { id } } }');
    await waitForCompletion(second.url, after.job.id, 60_000);
    console.log(JSON.stringify({ npmStartAfterKillMs: restartMs, firstJobAfterKillMs: Date.now() - started }));

    // SIGTERM: npm start stops its worker, then the server it took over, then exits 0.
    const exited = once(second.api, 'exit');
    second.api.kill('SIGTERM');
    const [code] = (await withTimeout(exited, 60_000, 'npm start to stop')) as [number | null];
    expect(code).toBe(0);
    expect(runs(server)).toBe(false);
    expect(await postmasterPid(dataDir)).toBeUndefined();
  });

  it('starts its embedded PostgreSQL again when it is killed, and keeps serving', async () => {
    const { dataDir, env } = await embeddedFolder();
    const { api, url } = await npmStart(env);
    const countWords = async () =>
      (await gql<{ countWords: { job: { id: string } } }>(url, 'mutation { countWords(input: { text: "a b c", chunkSize: 1 }) { job { id } } }')).countWords.job.id;
    await waitForCompletion(url, await countWords(), 60_000);
    const server = (await postmasterPid(dataDir))!;
    process.kill(server, 'SIGKILL');
    const killedAt = Date.now();
    const next = await waitFor(
      async () => {
        const pid = await postmasterPid(dataDir);
        const status = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[7]?.trim();
        return pid !== server && status === 'ready' ? pid : undefined;
      },
      (pid) => pid !== undefined,
      30_000,
      'a new embedded server',
    );
    const serverBackMs = Date.now() - killedAt;
    expect(childrenOf(api.pid!)).toContain(next);
    // The API and its worker reconnect as to any PostgreSQL that restarted.
    const id = await waitFor(() => countWords().catch(() => undefined), (value) => value !== undefined, 30_000, 'an enqueue to be accepted');
    await waitForCompletion(url, id!, 60_000);
    console.log(JSON.stringify({ embeddedServerBackMs: serverBackMs, firstJobDoneMs: Date.now() - killedAt }));
    expect(api.exitCode).toBeNull();
  });
});

describe('npm start, embedded: a report\'s testing as one run', () => {
  it('runs every phase on the demo data and completes once both gates are approved over GraphQL', async () => {
    const { env } = await embeddedFolder();
    const { url } = await npmStart(env);
    const ids = await waitFor(() => demoIds(url), (found) => found !== undefined, 120_000, 'the demo data');
    const { startReportTesting } = await gql<{ startReportTesting: { run: { id: string } } }>(
      url,
      'mutation($input: StartReportTestingInput!) { startReportTesting(input: $input) { run { id } } }',
      { input: { ...ids, sampling: { size: 200, method: 'STRATIFIED', seed: 42 } } },
    );
    const id = startReportTesting.run.id;
    type Run = { status: string; reason: string | null; steps: { name: string; status: string }[] };
    const read = () => gql<{ run: Run }>(url, 'query($id: ID!) { run(id: $id) { status reason steps { name status } } }', { id }).then((r) => r.run);
    for (const gate of ['scopingSignOff', 'resultsSignOff']) {
      const run = await waitFor(read, (r) => r.status !== 'RUNNING', 180_000, `the run to stop at ${gate}`);
      expect(run.steps.find((step) => step.name === gate)?.status, run.reason ?? run.status).toBe('WAITING');
      await gql(url, 'mutation($id: ID!, $gate: String!) { approveStep(runId: $id, step: $gate, comment: "ok") { status } }', { id, gate });
    }
    const done = await waitFor(read, (r) => r.status !== 'RUNNING' && r.status !== 'WAITING', 60_000, 'the run to end');
    expect(done.status, done.reason ?? '').toBe('COMPLETED');
  }, 300_000);
});
