import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHILD_WAIT_MS, createMetrics, supervisedMetrics, type Metrics } from '../../src/api/metrics.ts';
import { createApi, GRAPHIQL_DEFAULT_QUERY, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { Change } from '../../src/jobs/ledger/index.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { SupervisedProcess } from '../../src/lib/supervisor.ts';
import { TcpProxy } from '../faults/support/proxy.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The samples of a Prometheus text exposition (comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The samples named `name` whose labels include `labels`. */
const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** The one sample named `name` with `labels`; undefined when there is none. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(samples, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** `{ "<label values>": value }` of every sample named `name`, for exact comparison. */
const table = (samples: Sample[], name: string, keys: string[]) =>
  Object.fromEntries(find(samples, name).map((s) => [keys.map((k) => s.labels[k]).join(' '), s.value]));

/**
 * /metrics against a real ledger: two processes' worth of job systems share one database, A runs
 * the worker and B only enqueues; each process counts its own writes, and both report the ledger's
 * totals. The scrape goes over a real HTTP listener of the test's own.
 */
describe('GET /metrics', () => {
  const TOKEN = 'metrics-secret';
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let other: JobSystem;
  let metrics: Metrics;
  let otherMetrics: Metrics;
  let api: Api;
  const servers: Server[] = [];
  let url: string;
  let otherUrl: string;
  let graphqlJobId: string;

  async function serve(m: Metrics): Promise<string> {
    const server = createServer((req, res) => void m.handle(req, res));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
  }

  const scrape = async (at = url, token: string | undefined = TOKEN) => {
    const response = await fetch(at, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    expect(response.status).toBe(200);
    return parse(await response.text());
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('metrics') }));
    system = await harness.start();
    // B runs no worker: its jobs wait in the ledger until A's sweep sends them to A's queue.
    other = await harness.start({}, { worker: false });
    metrics = createMetrics(system, harness.config({ METRICS_TOKEN: TOKEN }), system.logger);
    otherMetrics = createMetrics(other, harness.config(), other.logger);
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger, { metrics });
    url = await serve(metrics);
    otherUrl = await serve(otherMetrics);

    const ids = await Promise.all([
      system.enqueue('test.echo', { value: 1 }),
      system.enqueue('test.echo', { value: 2 }),
      system.enqueue('test.flaky', { succeedOnAttempt: 3 }), // two retries, HANDLER_ERROR
      system.enqueue('test.refuses', {}), // FAILED at once
      system.enqueue('test.retryAt', { afterMs: 1_000 }), // one retry, RATE_LIMITED, due 1 s later
      system.enqueue('test.tooSlow', { ms: 10_000 }), // times out twice: one retry, then FAILED
      other.enqueue('test.echo', { value: 'from B' }),
    ]).then((created) => created.map(({ job }) => job.id));
    // Run again by hand: another attempt of the same job, not another job enqueued.
    const refused = ids[3]!;
    await waitForJob(system, refused, 'FAILED');
    await system.retry(refused);
    const waiting = await system.enqueue('test.echo', {}, { delayMs: 60_000 });
    await system.cancel(waiting.job.id);
    // The example GraphiQL opens with: it must run as it is.
    const res = await client(api.yoga).request(GRAPHIQL_DEFAULT_QUERY);
    expect(res.errors).toBeUndefined();
    graphqlJobId = res.data!.countWords.job.id;
    await Promise.all([...ids, graphqlJobId].map((id) => waitForJob(system, id)));
  });
  afterAll(async () => {
    metrics?.close();
    otherMetrics?.close();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await harness?.stopAll();
    await database?.drop();
  });

  it('counts what this process did: enqueued, finished by status, retries by reason', async () => {
    // A job's after-write step runs just after its row is visible: wait for the last counts.
    const samples = await waitFor(scrape, (s) => find(s, 'jobgraph_jobs_finished_total').reduce((n, x) => n + x.value, 0) >= 10, 10_000, 'the finished counters');
    expect(table(samples, 'jobgraph_jobs_enqueued_total', ['task', 'backend'])).toEqual({
      'test.echo inline': 3, // B's echo is B's to count
      'test.flaky inline': 1,
      'test.refuses inline': 1, // retried by hand: still one job
      'test.retryAt inline': 1,
      'test.tooSlow inline': 1,
      'demo.countWords inline': 1,
    });
    expect(table(samples, 'jobgraph_jobs_finished_total', ['task', 'status'])).toEqual({
      'test.echo COMPLETED': 3, // B's echo ran here
      'test.echo CANCELLED': 1,
      'test.flaky COMPLETED': 1,
      'test.refuses FAILED': 2,
      'test.retryAt COMPLETED': 1,
      'test.tooSlow FAILED': 1,
      'demo.countWords COMPLETED': 1,
    });
    expect(table(samples, 'jobgraph_job_retries_total', ['task', 'reason'])).toEqual({
      'test.flaky HANDLER_ERROR': 2,
      'test.retryAt RATE_LIMITED': 1,
      'test.tooSlow TIMEOUT': 1,
    });

    const theirs = await scrape(otherUrl, undefined);
    expect(table(theirs, 'jobgraph_jobs_enqueued_total', ['task', 'backend'])).toEqual({ 'test.echo inline': 1 });
    expect(find(theirs, 'jobgraph_jobs_finished_total')).toEqual([]);
    expect(find(theirs, 'jobgraph_job_wait_seconds_count')).toEqual([]);
  });

  it('times jobs: run time from first start to end, wait from due to claim', async () => {
    const samples = await scrape();
    expect(table(samples, 'jobgraph_job_duration_seconds_count', ['task', 'status'])).toEqual({
      'test.echo COMPLETED': 3, // the cancelled one never started
      'test.flaky COMPLETED': 1,
      'test.refuses FAILED': 2,
      'test.retryAt COMPLETED': 1,
      'test.tooSlow FAILED': 1,
      'demo.countWords COMPLETED': 1,
    });
    // Two attempts of 300 ms before their timeouts, and the backoff between.
    expect(value(samples, 'jobgraph_job_duration_seconds_sum', { task: 'test.tooSlow' })).toBeGreaterThanOrEqual(0.6);
    expect(value(samples, 'jobgraph_job_duration_seconds_bucket', { task: 'test.tooSlow', le: '+Inf' })).toBe(1);
    // One claim per attempt.
    expect(table(samples, 'jobgraph_job_wait_seconds_count', ['task'])).toEqual({
      'test.echo': 3,
      'test.flaky': 3,
      'test.refuses': 2,
      'test.retryAt': 2,
      'test.tooSlow': 2,
      'demo.countWords': 1,
    });
    // The retry was due 1 s after its failure: waiting for that second is not waiting for a worker.
    expect(value(samples, 'jobgraph_job_wait_seconds_sum', { task: 'test.retryAt' })).toBeLessThan(0.9);
  });

  it('reports the ledger at scrape time, the same from every process', async () => {
    const counts = await system.db.query<{ status: string; n: number }>('SELECT "status", count(*)::int AS n FROM "Job" GROUP BY "status"');
    const ledger = Object.fromEntries(counts.map((row) => [row.status, row.n]));
    expect(ledger).toMatchObject({ COMPLETED: 6, FAILED: 2, CANCELLED: 1 });
    const [ours, theirs] = [await scrape(), await scrape(otherUrl, undefined)];
    for (const samples of [ours, theirs]) {
      expect(value(samples, 'jobgraph_jobs', { status: 'COMPLETED' })).toBe(ledger.COMPLETED);
      expect(table(samples, 'jobgraph_jobs', ['status'])).toEqual({
        QUEUED: 0, RETRYING: 0, RUNNING: 0, CANCELLING: 0, COMPLETED: 6, FAILED: 2, CANCELLED: 1,
      });
      expect(value(samples, 'jobgraph_workers')).toBe(1); // A's; B runs none
      expect(value(samples, 'jobgraph_fallback_active')).toBe(0);
      expect(value(samples, 'jobgraph_retention_pruned_jobs')).toBe(0);
      expect(value(samples, 'jobgraph_retention_oldest_job_age_seconds')).toBeGreaterThan(0);
      expect(value(samples, 'jobgraph_ledger_up')).toBe(1);
      expect(value(samples, 'jobgraph_oldest_waiting_job_age_seconds', { task: 'test.echo' })).toBe(0); // nothing waits
    }
    expect(table(ours, 'jobgraph_backend_up', ['backend'])).toEqual({ inline: 1 });
    // B sends jobs to no queue: it has no backend to report on.
    expect(find(theirs, 'jobgraph_backend_up')).toEqual([]);

    // A job appears in the gauge at the next scrape, whoever wrote it.
    await other.enqueue('test.echo', {}, { delayMs: 60_000 });
    expect(value(await scrape(), 'jobgraph_jobs', { status: 'QUEUED' })).toBe(1);
  });

  it('measures GraphQL operations (yoga plugin, same registry) and the process', async () => {
    const samples = await scrape();
    // The one mutation through the API, labelled by operation, never by URL.
    expect(value(samples, 'graphql_envelop_request', { operationType: 'mutation' })).toBe(1);
    expect(value(samples, 'graphql_yoga_http_duration_count', { operationType: 'mutation' })).toBe(1);
    expect(find(samples, 'graphql_yoga_http_duration_count').every((s) => !('url' in s.labels))).toBe(true);
    expect(value(samples, 'graphql_envelop_phase_execute_count', { operationType: 'mutation' })).toBe(1);
    expect(value(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    // B's API measured nothing: its registry is its own.
    expect(find(await scrape(otherUrl, undefined), 'graphql_envelop_request')).toEqual([]);
  });

  it('asks for METRICS_TOKEN when it is set, and is open when it is not', async () => {
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.text()).not.toContain('jobgraph_');
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: TOKEN } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe(metrics.contentType);
    expect(await ok.text()).toContain('# TYPE jobgraph_jobs_enqueued_total counter');
    expect((await fetch(otherUrl)).status).toBe(200);
    expect((await fetch(otherUrl, { method: 'POST' })).status).toBe(405);
    // Yoga does not serve the plugin's own /metrics, which would skip the token.
    const viaYoga = await api.yoga.fetch('http://yoga/metrics');
    expect(await viaYoga.text()).not.toContain('jobgraph_');
  });

  it('onLocalChange: every write of this process, and a listener that throws fails no write', async () => {
    const seen: Change[] = [];
    const stopSeeing = system.onLocalChange((change) => seen.push(change));
    const stopThrowing = system.onLocalChange(() => {
      throw new Error('a broken listener');
    });
    const { job } = await system.enqueue('test.echo', { steps: 2 });
    await waitForJob(system, job.id, 'COMPLETED');
    await waitFor(async () => seen.filter((c) => c.job.id === job.id).at(-1)?.job.status, (s) => s === 'COMPLETED', 5_000, 'the completion');
    const events = seen.filter((c) => c.job.id === job.id).flatMap((c) => c.events.map((e) => `${e.seq} ${e.kind} ${e.status}`));
    expect(events).toEqual(['1 STATUS QUEUED', '2 STATUS RUNNING', '3 PROGRESS RUNNING', '4 PROGRESS RUNNING', '5 STATUS COMPLETED']);
    stopSeeing();
    stopThrowing();
    const heard = seen.length;
    await system.enqueue('test.echo', {}, { delayMs: 60_000 });
    expect(seen.length).toBe(heard);
  });

  it('GraphiQL opens on the countWords example, pointing at the dashboard', async () => {
    const page = await api.yoga.fetch('http://yoga/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(JSON.stringify(GRAPHIQL_DEFAULT_QUERY));
    expect(html).toContain('countWords(input: { text: \\"one two three four five six\\", chunkSize: 1, pauseMs: 500 })');
    expect(html).toContain('# subscription {\\n#   jobProgress(id: \\"<id>\\") { status progress message }');
    expect(html).toContain('/dashboard');
    // The example ran (beforeAll): it is a real job.
    expect(await system.getJob(graphqlJobId)).toMatchObject({ type: 'demo.countWords', status: 'COMPLETED' });
  });

  it('keeps counting jobs that retention removed, and says how many went', async () => {
    const before = table(await scrape(otherUrl, undefined), 'jobgraph_jobs', ['status']);
    const [finished] = await system.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Job" WHERE "finishedAt" IS NOT NULL`);
    await system.db.query(`UPDATE "Job" SET "createdAt" = now() - interval '40 days', "finishedAt" = now() - interval '40 days' WHERE "finishedAt" IS NOT NULL`);
    expect(await system.pruner!.prune()).toBe(finished!.n);
    const after = await scrape(otherUrl, undefined);
    expect(table(after, 'jobgraph_jobs', ['status'])).toEqual(before);
    expect(value(after, 'jobgraph_retention_pruned_jobs')).toBe(finished!.n);
  });

  it('counts runs per status, the open gates and the oldest one\'s wait, and times each decision', async () => {
    const { run } = await system.runs.start('testDiamond', { tag: 'metrics' });
    await waitFor(async () => (await system.runs.get(run.run.id))!.run.status, (status) => status === 'WAITING', 15_000, 'the gate open');
    const open = await scrape(otherUrl, undefined);
    expect(value(open, 'jobgraph_runs', { workflow: 'testDiamond', status: 'WAITING' })).toBe(1);
    expect(value(open, 'jobgraph_gates_open')).toBe(1);
    expect(value(open, 'jobgraph_gate_oldest_wait_seconds')).toBeGreaterThanOrEqual(0);
    await system.runs.approve(run.run.id, 'signOff', 'reviewer');
    await waitFor(async () => (await system.runs.get(run.run.id))!.run.status, (status) => status === 'COMPLETED', 15_000, 'the run completed');
    const ours = await scrape();
    expect(value(ours, 'jobgraph_runs', { workflow: 'testDiamond', status: 'COMPLETED' })).toBe(1);
    expect(value(ours, 'jobgraph_gates_open')).toBe(0);
    expect(value(ours, 'jobgraph_gate_oldest_wait_seconds')).toBe(0);
    expect(value(ours, 'jobgraph_gate_wait_seconds_count', { workflow: 'testDiamond', step: 'signOff', decision: 'APPROVED' })).toBe(1);
    // The decision was made through this process: the other counts none.
    expect(find(await scrape(otherUrl, undefined), 'jobgraph_gate_wait_seconds_count')).toEqual([]);
  });

  it('reports each shared limit from the ledger (budget, held, waiting, a pause), the same from every process, and times the waits of this process', async () => {
    // `gate` (test/fixtures/limits.ts) allows two at once: both held, a third take waits.
    const held = [await system.limits.take('gate'), await system.limits.take('gate')];
    const third = system.limits.take('gate');
    await system.limits.pause('llm', 60_000, 'LLM endpoint answered 429');
    const busy = await waitFor(() => scrape(otherUrl, undefined), (samples) => value(samples, 'jobgraph_limit_waiting', { limit: 'gate' }) === 1, 5_000, 'the waiter');
    expect(value(busy, 'jobgraph_limit_budget', { limit: 'gate', kind: 'concurrency' })).toBe(2);
    expect(find(busy, 'jobgraph_limit_budget', { limit: 'llm' })).toEqual([]); // unbounded
    expect(value(busy, 'jobgraph_limit_used', { limit: 'gate', kind: 'concurrency' })).toBe(2);
    expect(value(busy, 'jobgraph_limit_paused_seconds', { limit: 'llm' })).toBeGreaterThan(50);
    expect(value(busy, 'jobgraph_limit_paused_seconds', { limit: 'gate' })).toBe(0);

    await held[0]!.done();
    await (await third).done();
    await held[1]!.done();
    await system.limits.resume('llm');
    const after = await scrape();
    expect(value(after, 'jobgraph_limit_used', { limit: 'gate', kind: 'concurrency' })).toBe(0);
    expect(value(after, 'jobgraph_limit_waiting', { limit: 'gate' })).toBe(0);
    expect(value(after, 'jobgraph_limit_paused_seconds', { limit: 'llm' })).toBe(0);
    expect(value(after, 'jobgraph_limit_wait_seconds_count', { limit: 'gate', why: 'concurrency' })).toBe(1);
    // The wait was this process's: the other times none.
    expect(find(await scrape(otherUrl, undefined), 'jobgraph_limit_wait_seconds_count')).toEqual([]);
  });
});

/**
 * What the alert rules (ops/prometheus) watch beyond the counters: how long the oldest due job of
 * each task has waited, and whether a process can read the ledger at all, with PostgreSQL behind a
 * TCP proxy the test controls. One process that runs no worker: its jobs wait.
 */
describe('GET /metrics: waiting jobs and the ledger going away', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let harness: Harness;
  let system: JobSystem;
  let metrics: Metrics;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await TcpProxy.start(5432);
    const url = new URL(database.url);
    url.port = String(proxy.port);
    harness = new Harness(testEnv({ DATABASE_URL: url.toString(), QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('metricsup') }));
    system = await harness.start({}, { worker: false });
    metrics = createMetrics(system, harness.config(), system.logger);
  });
  afterAll(async () => {
    proxy?.pass();
    metrics?.close();
    await harness?.stopAll();
    await proxy?.close();
    await database?.drop();
  });

  const scrape = async () => parse(await metrics.registry.metrics());

  it('jobgraph_oldest_waiting_job_age_seconds: per task, since its oldest waiting job was due; 0 for a task with none due', async () => {
    const before = await scrape();
    const known = system.tasks.list().map((task) => task.name);
    expect(table(before, 'jobgraph_oldest_waiting_job_age_seconds', ['task'])).toEqual(Object.fromEntries(known.map((name) => [name, 0])));

    const old = await system.enqueue('test.echo', { value: 'old' });
    await system.enqueue('test.echo', { value: 'new' });
    const delayed = await system.enqueue('test.flaky', { succeedOnAttempt: 1 }, { delayMs: 600_000 });
    // Due 100 s ago, as if no worker had come for it since.
    await system.db.query(`UPDATE "Job" SET "runAt" = now() - interval '100 seconds' WHERE id = $1`, [old.job.id]);
    const samples = await scrape();
    expect(value(samples, 'jobgraph_oldest_waiting_job_age_seconds', { task: 'test.echo' })).toBeGreaterThanOrEqual(100);
    expect(value(samples, 'jobgraph_oldest_waiting_job_age_seconds', { task: 'test.echo' })).toBeLessThan(110);
    // Delayed ten minutes: waiting, not yet due.
    expect(value(samples, 'jobgraph_oldest_waiting_job_age_seconds', { task: 'test.flaky' })).toBe(0);
    expect(value(samples, 'jobgraph_jobs', { status: 'QUEUED' })).toBe(3);

    // Due now (a retry's due time, say): counted from then.
    await system.db.query(`UPDATE "Job" SET "runAt" = now() - interval '30 seconds' WHERE id = $1`, [delayed.job.id]);
    const flaky = value(await scrape(), 'jobgraph_oldest_waiting_job_age_seconds', { task: 'test.flaky' });
    expect(flaky).toBeGreaterThanOrEqual(30);
    expect(flaky).toBeLessThan(40);

    // Once it is no longer waiting, the next oldest counts.
    await system.cancel(old.job.id);
    expect(value(await scrape(), 'jobgraph_oldest_waiting_job_age_seconds', { task: 'test.echo' })).toBeLessThan(10);
  });

  it('jobgraph_ledger_up: 1 while this process reads the ledger, 0 (and the ledger gauges left out) while it cannot', async () => {
    const up = await scrape();
    expect(value(up, 'jobgraph_ledger_up')).toBe(1);
    expect(value(up, 'jobgraph_workers')).toBe(0);

    proxy.drop();
    const down = await scrape();
    expect(value(down, 'jobgraph_ledger_up')).toBe(0);
    // Missing, not 0 (prom-client keeps an unlabelled gauge at 0 unless it is removed): 0 workers would page.
    const ledgerGauges = ['jobgraph_jobs', 'jobgraph_workers', 'jobgraph_fallback_active', 'jobgraph_oldest_waiting_job_age_seconds', 'jobgraph_retention_pruned_jobs', 'jobgraph_retention_oldest_job_age_seconds', 'jobgraph_gates_open', 'jobgraph_gate_oldest_wait_seconds'];
    for (const name of ledgerGauges) expect(find(up, name), name).not.toEqual([]);
    for (const name of ledgerGauges) {
      expect(find(down, name), name).toEqual([]);
    }
    // What this process did is still served.
    expect(value(down, 'jobgraph_jobs_enqueued_total', { task: 'test.echo', backend: 'inline' })).toBe(2);

    proxy.pass();
    const back = await waitFor(scrape, (samples) => value(samples, 'jobgraph_ledger_up') === 1, 15_000, 'the ledger back');
    expect(value(back, 'jobgraph_jobs', { status: 'QUEUED' })).toBe(2);
  });

  it('every jobgraph_ series the alert rules and the Grafana dashboard name is one this registry serves, and in README', async () => {
    const root = new URL('../../', import.meta.url);
    const served = new Set((await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name));
    const readme = await readFile(new URL('README.md', root), 'utf8');
    for (const file of ['ops/prometheus/jobgraph-alerts.yml', 'ops/prometheus/jobgraph-alerts.test.yml', 'ops/grafana/jobgraph.json']) {
      const text = await readFile(new URL(file, root), 'utf8');
      const names = new Set(text.match(/\bjobgraph_[a-z_]+/g));
      expect(names.size, file).toBeGreaterThan(0);
      // A histogram is served as <name>_bucket, _sum and _count.
      const unknown = [...names].filter((name) => !served.has(name) && !served.has(name.replace(/_(bucket|sum|count)$/, '')));
      expect(unknown, `${file} names series /metrics does not serve`).toEqual([]);
    }
    const undocumented = [...served].filter((name) => name.startsWith('jobgraph_') && !readme.includes(`\`${name}`));
    expect(undocumented, 'metrics missing from README\'s table').toEqual([]);
  });
});

/**
 * `npm start`'s layout: an API-side job system that runs no worker, and a worker process it
 * supervises (test/fixtures/metrics-child.ts, forked by SupervisedProcess as main.ts forks
 * src/worker.ts) that runs the jobs. The API's scrape asks the worker over IPC: its counters and
 * histograms are summed into the API's, the ledger gauges are the API's alone, and a worker that is
 * busy or gone costs the scrape no more than CHILD_WAIT_MS.
 */
describe('GET /metrics of a process that supervises its worker process', () => {
  const TOKEN = 'supervised-secret';
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;
  let worker: SupervisedProcess;
  let metrics: Metrics;
  let server: Server;
  let url: string;
  const ids: string[] = [];

  /** A scrape over HTTP, and how long it took (ms). */
  const timedScrape = async () => {
    const started = performance.now();
    const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    return { samples: parse(text), ms: performance.now() - started };
  };
  const scrape = async () => (await timedScrape()).samples;
  const own = async () => parse(await metrics.registry.metrics());
  /** A job enqueued by the worker process itself (its own count). */
  const enqueueInWorker = async (input: unknown) => (await worker.request({ type: 'enqueue', task: 'test.echo', input }, 10_000)) as string;
  const fromWorker = (samples: Sample[], name: string) => find(samples, name, { process: 'worker' });

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('supervised') }));
    api = await harness.start({}, { worker: false });
    worker = new SupervisedProcess({
      name: 'worker',
      module: fileURLToPath(new URL('../fixtures/metrics-child.ts', import.meta.url)),
      env: { ...process.env, ...harness.env },
      logger: api.logger,
      restart: true,
    });
    await worker.start();
    metrics = createMetrics(api, harness.config({ METRICS_TOKEN: TOKEN }), api.logger, { children: supervisedMetrics(() => [worker]) });
    server = createServer((req, res) => void metrics.handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;

    // Three jobs enqueued through the API, two by the worker process; the worker runs all five.
    for (const value of [1, 2, 3]) ids.push((await api.enqueue('test.echo', { value })).job.id);
    for (const value of [4, 5]) ids.push(await enqueueInWorker({ value }));
    // One cancelled by the API while it waits: the API counts its end.
    const waiting = await api.enqueue('test.echo', {}, { delayMs: 60_000 });
    await api.cancel(waiting.job.id);
    await Promise.all(ids.map((id) => waitForJob(api, id, 'COMPLETED')));
  }, 60_000);
  afterAll(async () => {
    metrics?.close();
    server?.closeAllConnections();
    server?.close();
    await worker?.stop(5_000);
    await harness?.stopAll();
    await database?.drop();
  });

  it("serves the worker's counters and histograms summed with the API's, one series per task and status", async () => {
    // A job's after-write step runs just after its row is visible: wait for the last count.
    const samples = await waitFor(scrape, (s) => value(s, 'jobgraph_jobs_finished_total', { task: 'test.echo', status: 'COMPLETED' }) === 5, 10_000, "the worker's counts");
    // API 4 (one cancelled) + worker 2; `value` fails on two samples of one name and labels.
    expect(table(samples, 'jobgraph_jobs_enqueued_total', ['task', 'backend'])).toEqual({ 'test.echo inline': 6 });
    expect(table(samples, 'jobgraph_jobs_finished_total', ['task', 'status'])).toEqual({ 'test.echo COMPLETED': 5, 'test.echo CANCELLED': 1 });
    expect(table(samples, 'jobgraph_job_duration_seconds_count', ['task', 'status'])).toEqual({ 'test.echo COMPLETED': 5 });
    expect(value(samples, 'jobgraph_job_duration_seconds_bucket', { task: 'test.echo', status: 'COMPLETED', le: '+Inf' })).toBe(5);
    expect(table(samples, 'jobgraph_job_wait_seconds_count', ['task'])).toEqual({ 'test.echo': 5 });
    // The API's own registry: what it did alone.
    const ours = await own();
    expect(table(ours, 'jobgraph_jobs_enqueued_total', ['task', 'backend'])).toEqual({ 'test.echo inline': 4 });
    expect(table(ours, 'jobgraph_jobs_finished_total', ['task', 'status'])).toEqual({ 'test.echo CANCELLED': 1 });
    expect(find(ours, 'jobgraph_job_duration_seconds_count')).toEqual([]);

    // The ledger, read once (by the API): not the sum of two processes reading the same rows.
    expect(value(samples, 'jobgraph_jobs', { status: 'COMPLETED' })).toBe(5);
    expect(value(samples, 'jobgraph_jobs', { status: 'CANCELLED' })).toBe(1);
    expect(value(samples, 'jobgraph_workers')).toBe(1);
    expect(value(samples, 'jobgraph_ledger_up')).toBe(1);
    // Each process's own: the API's unlabelled as before, the worker's labelled.
    expect(find(samples, 'process_cpu_user_seconds_total').map((s) => s.labels)).toEqual([{}, { process: 'worker' }]);
    expect(value(samples, 'nodejs_heap_size_used_bytes', { process: 'worker' })).toBeGreaterThan(0);
    expect(value(samples, 'process_start_time_seconds', { process: 'worker' })).toBeGreaterThan(0);
    expect(fromWorker(samples, 'jobgraph_jobs_finished_total')).toEqual([]);
  });

  it('still asks for METRICS_TOKEN, and answers a scrape in a few milliseconds', async () => {
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('jobgraph_');
    const times: number[] = [];
    const alone: number[] = [];
    for (let n = 0; n < 20; n++) {
      times.push((await timedScrape()).ms);
      const started = performance.now();
      await metrics.registry.metrics(); // the API's own series, without asking the worker
      alone.push(performance.now() - started);
    }
    for (const list of [times, alone]) list.sort((a, b) => a - b);
    console.info(`scrape with a supervised worker: median ${times[10]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms (the API's registry alone: median ${alone[10]!.toFixed(1)} ms)`);
    expect(times[10]!).toBeLessThan(100);
  });

  it("a worker whose event loop is held: the scrape answers within the bound, with the worker's last counts", async () => {
    const before = await scrape();
    expect(fromWorker(before, 'process_cpu_user_seconds_total')).toHaveLength(1);
    const held = worker.request({ type: 'block', ms: 2_000 }, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { samples, ms } = await timedScrape();
    console.info(`scrape while the worker's loop is held: ${ms.toFixed(1)} ms`);
    expect(ms).toBeGreaterThanOrEqual(CHILD_WAIT_MS - 5);
    expect(ms).toBeLessThan(CHILD_WAIT_MS + 400);
    // Counts never drop for a worker that did not answer: its last answer's are served.
    expect(table(samples, 'jobgraph_jobs_finished_total', ['task', 'status'])).toEqual(table(before, 'jobgraph_jobs_finished_total', ['task', 'status']));
    expect(value(samples, 'jobgraph_job_duration_seconds_count', { task: 'test.echo', status: 'COMPLETED' })).toBe(5);
    // Its process metrics describe it now, or not at all.
    expect(fromWorker(samples, 'process_cpu_user_seconds_total')).toEqual([]);
    // A second scrape meanwhile sends no second request: it waits on the one still open.
    expect((await timedScrape()).ms).toBeLessThan(CHILD_WAIT_MS + 400);
    expect(await held).toBe(true);
    const after = await waitFor(scrape, (s) => fromWorker(s, 'process_cpu_user_seconds_total').length === 1, 5_000, 'the worker answering again');
    expect(value(after, 'jobgraph_jobs_finished_total', { task: 'test.echo', status: 'COMPLETED' })).toBe(5);
  });

  it('a worker that exits: scrapes answer at once while it is gone, and the new process counts on top of the one before', async () => {
    const before = await scrape();
    expect(await worker.request({ type: 'exit' }, 5_000)).toBe(true);
    // Gone, then starting again (the supervisor waits 1 s, then the job system starts): no child
    // to ask, no wait.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const gone = await timedScrape();
    console.info(`scrape while the worker is gone: ${gone.ms.toFixed(1)} ms`);
    expect(gone.ms).toBeLessThan(CHILD_WAIT_MS + 400);
    const asked = performance.now();
    expect(await worker.request({ type: 'metrics' }, 5_000)).toBeUndefined();
    expect(performance.now() - asked).toBeLessThan(CHILD_WAIT_MS);
    expect(table(gone.samples, 'jobgraph_jobs_enqueued_total', ['task', 'backend'])).toEqual(table(before, 'jobgraph_jobs_enqueued_total', ['task', 'backend']));
    expect(table(gone.samples, 'jobgraph_jobs_finished_total', ['task', 'status'])).toEqual(table(before, 'jobgraph_jobs_finished_total', ['task', 'status']));
    expect(fromWorker(gone.samples, 'process_cpu_user_seconds_total')).toEqual([]);

    // The new worker process counts from 0; the scrape keeps the old one's and adds the new one's.
    await waitFor(() => worker.request({ type: 'metrics' }, 1_000), (answer) => answer !== undefined, 30_000, 'the worker started again');
    const id = await enqueueInWorker({ value: 'after the restart' });
    await waitForJob(api, id, 'COMPLETED');
    const after = await waitFor(scrape, (s) => value(s, 'jobgraph_jobs_finished_total', { task: 'test.echo', status: 'COMPLETED' }) === 6, 10_000, "the new worker's count");
    expect(table(after, 'jobgraph_jobs_enqueued_total', ['task', 'backend'])).toEqual({ 'test.echo inline': 7 });
    expect(table(after, 'jobgraph_jobs_finished_total', ['task', 'status'])).toEqual({ 'test.echo COMPLETED': 6, 'test.echo CANCELLED': 1 });
    expect(value(after, 'jobgraph_job_duration_seconds_count', { task: 'test.echo', status: 'COMPLETED' })).toBe(6);
    expect(value(after, 'jobgraph_job_duration_seconds_bucket', { task: 'test.echo', status: 'COMPLETED', le: '+Inf' })).toBe(6);
    expect(fromWorker(after, 'process_cpu_user_seconds_total')).toHaveLength(1);
  });

  it('SupervisedProcess.request: undefined at once with no child, and after its timeout for a question nobody answers', async () => {
    const idle = new SupervisedProcess({ name: 'idle', module: 'never-started.ts', env: {}, logger: api.logger, restart: false });
    const started = performance.now();
    expect(await idle.request({ type: 'metrics' }, 5_000)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(50);
    const asked = performance.now();
    expect(await worker.request({ type: 'nobody answers this' }, 200)).toBeUndefined();
    expect(performance.now() - asked).toBeGreaterThanOrEqual(195);
  });
});
