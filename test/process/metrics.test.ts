/**
 * `npm start` with PostgreSQL and pg-boss, its worker a process it supervises (WORKER_IN_PROCESS,
 * the default): the jobs run in the worker, and one scrape of the API's /metrics counts them
 * (finished, durations) without a port of the worker's own. The ledger gauges are read once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, waitForCompletion } from '../helpers/api-probe.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/ports.ts';
import { testEnv, uniqueName, waitFor } from '../helpers/system.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'process-metrics-secret';

/** The sum of the samples named `name` (exactly) whose label text contains each of `labels`. */
function total(text: string, name: string, ...labels: string[]): number {
  return text
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && labels.every((label) => line.includes(label)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
const count = (text: string, name: string, ...labels: string[]) =>
  text.split('\n').filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && labels.every((label) => line.includes(label))).length;

describe('npm start: the API scrape covers the worker process it supervises', () => {
  let database: TestDatabase;
  let api: ChildProcess;
  let url: string;

  const scrape = async () => {
    const started = performance.now();
    const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    return { text: await response.text(), ms: performance.now() - started };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      ...testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'pgboss', QUEUE_NAME: uniqueName('scrape'), WORKER_IN_PROCESS: 'true', METRICS_TOKEN: TOKEN, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' }),
      PORT: String(port),
      METRICS_PORT: undefined,
    };
    api = spawn(process.execPath, ['src/main.ts'], {
      cwd: root,
      env: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor(() => fetch(`${url}/ready`).then((r) => r.status, () => 0), (status) => status === 200, 60_000, 'npm start to be ready');
  }, 90_000);
  afterAll(async () => {
    if (api && api.exitCode === null && api.signalCode === null) {
      api.kill('SIGTERM');
      const killer = setTimeout(() => api.kill('SIGKILL'), 15_000);
      await once(api, 'exit');
      clearTimeout(killer);
    }
    await database?.drop();
  }, 30_000);

  it('counts the jobs the worker ran: jobgraph_jobs_finished_total and jobgraph_job_duration_seconds', async () => {
    // The worker's registry exists (its process metrics are in the scrape) before the jobs: one it
    // claimed in its first moments, before its registry listened, would miss its wait (README).
    await waitFor(async () => (await scrape()).text, (text) => text.includes('process="worker"'), 30_000, "the worker's registry in the API's scrape");
    const mutation = 'mutation { countWords(input: { text: "one two three", chunkSize: 1, pauseMs: 0 }) { job { id } } }';
    const ids = await Promise.all([1, 2, 3].map(async () => (await gql<{ countWords: { job: { id: string } } }>(url, mutation)).countWords.job.id));
    await Promise.all(ids.map((id) => waitForCompletion(url, id, 60_000)));

    // A job's after-write step runs just after its row is visible: wait for the last count.
    const finished = async () => total((await scrape()).text, 'jobgraph_jobs_finished_total', 'task="demo.countWords"', 'status="COMPLETED"');
    await waitFor(finished, (n) => n >= 3, 15_000, "the worker's counts in the API's scrape (jobgraph_jobs_finished_total)");
    const { text } = await scrape();
    expect(total(text, 'jobgraph_jobs_finished_total', 'task="demo.countWords"', 'status="COMPLETED"')).toBe(3);
    expect(total(text, 'jobgraph_job_duration_seconds_count', 'task="demo.countWords"', 'status="COMPLETED"')).toBe(3);
    expect(total(text, 'jobgraph_job_wait_seconds_count', 'task="demo.countWords"')).toBe(3);
    // Enqueued by the API, run by the worker: each counted once, in one series.
    expect(count(text, 'jobgraph_jobs_enqueued_total', 'task="demo.countWords"')).toBe(1);
    expect(total(text, 'jobgraph_jobs_enqueued_total', 'task="demo.countWords"')).toBe(3);
    // The ledger, read once: one worker heartbeating, three jobs completed.
    expect(count(text, 'jobgraph_workers')).toBe(1);
    expect(total(text, 'jobgraph_workers')).toBe(1);
    expect(total(text, 'jobgraph_jobs', 'status="COMPLETED"')).toBe(3);
    // The worker's own process metrics, labelled; the API's as before.
    expect(count(text, 'process_resident_memory_bytes', 'process="worker"')).toBe(1);
    expect(count(text, 'process_resident_memory_bytes')).toBe(2);

    // Behind METRICS_TOKEN, and quick.
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const times: number[] = [];
    for (let n = 0; n < 10; n++) times.push((await scrape()).ms);
    times.sort((a, b) => a - b);
    console.info(`npm start scrape: median ${times[5]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`);
    expect(times[5]!).toBeLessThan(250);
  }, 90_000);
});
