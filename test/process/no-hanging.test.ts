/**
 * `npm start` as a newcomer runs it: the API's event loop runs no task. Its worker is a process of
 * its own that it supervises (and starts again when it dies), and embedded, the PGlite ledger is
 * served by a third. A client probing the API every 50 ms while profileDataset and executeTests
 * run on the demo data keeps getting answers; the jobs run in another process.
 * (bench/api-latency.ts measures the same against its targets, side by side with the code before.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { demoIds, gql, preparePhases, probeDuringLongTasks, PROBE_QUERY, waitForCompletion } from '../helpers/api-probe.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/ports.ts';
import { REDIS_URL, uniqueName, waitFor, withTimeout } from '../helpers/system.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

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
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-no-hanging-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { api, url } = await npmStart({ PGLITE_DIR: join(dir, 'pgdata'), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    // The first start loads the demo (100,000 records) as a job.
    const ids = await waitFor(() => demoIds(url), (found) => found !== undefined, 120_000, 'the demo data');
    await preparePhases(url, ids!);

    const { probes, profile, tests } = await probeDuringLongTasks(url, ids!, [PROBE_QUERY, '{ __typename }']);
    const [info, bare] = probes.map((p) => ({ ...p, max: Math.max(...p.latencies) }));
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
  it('takes the job up again at once in the new worker (the only one on its ledger)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-no-hanging-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { url } = await npmStart({ PGLITE_DIR: join(dir, 'pgdata'), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const { countWords } = await gql<{ countWords: { job: { id: string } } }>(url, 'mutation { countWords(input: { text: "a b c d", chunkSize: 1, pauseMs: 2000 }) { job { id } } }');
    const id = countWords.job.id;
    await waitFor(() => gql<{ job: { status: string } }>(url, 'query($id: ID!) { job(id: $id) { status } }', { id }), (r) => r.job.status === 'RUNNING', 60_000, 'RUNNING');
    process.kill(await runnerPid(url, id), 'SIGKILL');
    const started = Date.now();
    await waitForCompletion(url, id, 60_000);
    // Well inside STALE_AFTER_MS (30 s): the restarted worker settles what the dead one held.
    expect(Date.now() - started).toBeLessThan(20_000);
    const { job } = await gql<{ job: { attempt: number } }>(url, 'query($id: ID!) { job(id: $id) { attempt } }', { id });
    expect(job.attempt).toBe(2);
  });
});

describe('npm start, embedded, killed', () => {
  it('takes its worker and ledger processes with it, and the next npm start opens the same ledger', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-no-hanging-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const env = { PGLITE_DIR: join(dir, 'pgdata'), REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    const first = await npmStart(env);
    const { countWords } = await gql<{ countWords: { job: { id: string } } }>(first.url, 'mutation { countWords(input: { text: "a b c", chunkSize: 1 }) { job { id } } }');
    await waitForCompletion(first.url, countWords.job.id, 60_000);
    const children = childrenOf(first.api.pid!);
    expect(children).toHaveLength(2); // the worker and the ledger
    first.api.kill('SIGKILL');
    await waitFor(async () => children.filter(alive), (left) => left.length === 0, 15_000, 'the children to end with their parent');
    const second = await npmStart(env);
    const { job } = await gql<{ job: { status: string } }>(second.url, 'query($id: ID!) { job(id: $id) { status } }', { id: countWords.job.id });
    expect(job.status).toBe('COMPLETED');
  });

  it('stops, saying so, when its ledger process ends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-no-hanging-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { api } = await npmStart({ PGLITE_DIR: join(dir, 'pgdata'), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const exited = once(api, 'exit');
    const ledger = childrenOf(api.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ledger-host.ts'));
    expect(ledger).toBeDefined();
    process.kill(ledger!, 'SIGKILL');
    const [code] = (await withTimeout(exited, 30_000, 'npm start to stop')) as [number | null];
    expect(code).toBe(1);
  });
});

describe('npm start, embedded: a report\'s testing as one run', () => {
  it('runs every phase on the demo data and completes once both gates are approved over GraphQL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-no-hanging-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { url } = await npmStart({ PGLITE_DIR: join(dir, 'pgdata'), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
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
