/**
 * The report's testing as one run, through GraphQL as its users drive it: an operator starts it,
 * follows it over SSE, an approver signs off both gates (the first through another API process),
 * and its results equal those of running the phases by hand with the same seed. On the in-process
 * queue, and on BullMQ and pg-boss with the work in a separate worker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTaskDeps } from '../../src/tasks/deps.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';
import { waitFor } from '../helpers/wait.ts';

const TOKENS = 'op:tok-op:operator,rev:tok-rev:approver,vic:tok-vic:viewer';
const RUN_FIELDS = `id status progress reason lastSeq steps { name kind status progress generation result error decision { by comment } }`;
const SAMPLING = { size: 40, method: 'RANDOM', seed: 7 };

type Step = { name: string; kind: string; status: string; progress: number; result: Record<string, unknown> | null; decision: { by: string; comment: string } | null };
type Run = { id: string; status: string; progress: number; reason: string | null; lastSeq: number; steps: Step[] };

describe.each([
  { backend: 'inline', separateWorker: false },
  { backend: 'bullmq', separateWorker: true },
  { backend: 'pgboss', separateWorker: true },
])('the report-testing run on $backend', ({ backend, separateWorker }) => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let api: Api;
  let otherApi: Api;
  let reportId: string;
  let datasetId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({
        DATABASE_URL: database.url,
        QUEUE_BACKEND: backend,
        QUEUE_NAME: uniqueName('rt'),
        PGBOSS_SCHEMA: uniqueName('pgboss'),
        API_TOKENS: TOKENS,
        RUN_SWEEP_INTERVAL_MS: '1000',
      }),
    );
    const deps = createTaskDeps({ LLM_CONCURRENCY: 4 });
    system = await harness.start({}, { deps, worker: !separateWorker });
    if (separateWorker) await harness.spawnWorker();
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger);
    // A second API process: its own job system (no worker), its own bus connection.
    const other = await harness.start({}, { deps, worker: false });
    otherApi = createApi(other, workflowReads(other.db.prisma), harness.config(), other.logger);
  }, 120_000);
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  const as = (token: string, on: Api = api) => client(on.yoga, token);

  async function runOf(id: string): Promise<Run> {
    const res = await as('tok-op').request<{ run: Run }>(`query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id });
    expect(res.errors).toBeUndefined();
    return res.data!.run;
  }
  const stepOf = (run: Run, name: string) => run.steps.find((step) => step.name === name)!;

  /** A phase by its own mutation, as before runs existed; the finished job. */
  async function byHand(mutation: string, input: Record<string, unknown>) {
    const res = await as('tok-op').request(`mutation($input: ${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input!) { ${mutation}(input: $input) { job { id } } }`, { input });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const job = await waitForJob(system, (res.data as Record<string, { job: { id: string } }>)[mutation]!.job.id, undefined, 60_000);
    expect(job.status, `${mutation}: ${job.errorMessage}`).toBe('COMPLETED');
    return job;
  }

  it('loads the demo data', async () => {
    await byHand('seedDemoData', { records: 2_000 });
    const listed = await as('tok-vic').request(`{ reports { id } datasets { id } }`);
    reportId = listed.data!.reports[0].id;
    datasetId = listed.data!.datasets[0].id;
  });

  it('refuses a run on ids that name nothing, by field, and a viewer may not start one', async () => {
    const bad = await as('tok-op').request(`mutation { startReportTesting(input: { reportId: "nope", datasetId: "${datasetId}", sampling: { size: 5, method: RANDOM } }) { run { id } } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'input.reportId', message: 'no report with id nope' }] });
    const viewer = await as('tok-vic').request(`mutation { startReportTesting(input: { reportId: "${reportId}", datasetId: "${datasetId}", sampling: { size: 5, method: RANDOM } }) { run { id } } }`);
    expect(viewer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('runs every phase in order, waits at both gates for an approver, and ends COMPLETED; runProgress follows it all', async () => {
    const key = uniqueName('testing');
    const start = `mutation($input: StartReportTestingInput!, $key: String) { startReportTesting(input: $input, idempotencyKey: $key) { deduplicated run { id status } } }`;
    const input = { reportId, datasetId, sampling: SAMPLING };
    const started = await as('tok-op').request(start, { input, key });
    expect(started.errors, JSON.stringify(started.errors)).toBeUndefined();
    const runId: string = started.data!.startReportTesting.run.id;
    // The same key answers the same run.
    const again = await as('tok-op').request(start, { input, key });
    expect(again.data!.startReportTesting).toMatchObject({ deduplicated: true, run: { id: runId } });

    const updates: { seq: number; run: Run; events: { seq: number; step: string | null; status: string; actor: string | null }[] }[] = [];
    const following = as('tok-op').subscribe(
      `subscription($id: ID!) { runProgress(id: $id) { seq events { seq step status actor } run { ${RUN_FIELDS} } } }`,
      { id: runId },
      { onResult: (r) => updates.push((r.data as { runProgress: (typeof updates)[number] }).runProgress) },
    );

    const atScoping = await waitFor(() => runOf(runId), (run) => run.status === 'WAITING', 90_000, 'the run waiting for the scoping sign-off');
    expect(atScoping.steps.map((step) => [step.name, step.status])).toEqual([
      ['attributes', 'COMPLETED'],
      ['mappings', 'COMPLETED'],
      ['scoping', 'COMPLETED'],
      ['scopingSignOff', 'WAITING'],
      ['samples', 'PENDING'],
      ['profilingRules', 'PENDING'],
      ['datasetProfile', 'PENDING'],
      ['tests', 'PENDING'],
      ['resultsSignOff', 'PENDING'],
    ]);
    // Who ran the work does not sign it off; the approver does, through the other API process.
    const self = await as('tok-op').request(`mutation($id: ID!) { approveStep(runId: $id, step: "scopingSignOff") { id } }`, { id: runId });
    expect(self.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const approve = `mutation($id: ID!, $step: String!, $comment: String) { approveStep(runId: $id, step: $step, comment: $comment) { ${RUN_FIELDS} } }`;
    const first = await as('tok-rev', otherApi).request<{ approveStep: Run }>(approve, { id: runId, step: 'scopingSignOff', comment: 'scope reviewed' });
    expect(first.errors, JSON.stringify(first.errors)).toBeUndefined();
    expect(stepOf(first.data!.approveStep, 'scopingSignOff')).toMatchObject({ status: 'COMPLETED', decision: { by: 'rev', comment: 'scope reviewed' } });

    const atResults = await waitFor(
      () => runOf(runId),
      (run) => run.status === 'WAITING' && stepOf(run, 'resultsSignOff').status === 'WAITING',
      120_000,
      'the run waiting for the results sign-off',
    );
    expect(atResults.steps.filter((step) => step.status !== 'COMPLETED').map((step) => step.name)).toEqual(['resultsSignOff']);
    const second = await as('tok-rev').request<{ approveStep: Run }>(approve, { id: runId, step: 'resultsSignOff', comment: 'results accepted' });
    expect(second.errors).toBeUndefined();
    const done = await waitFor(() => runOf(runId), (run) => run.status === 'COMPLETED', 30_000, 'the run completed');
    expect(done.progress).toBe(100);

    // The subscription saw it through: it completed after the run did, its history has every seq once, in order.
    await following;
    const last = updates.at(-1)!;
    expect(last.run.status).toBe('COMPLETED');
    const seqs = updates.flatMap((update) => update.events.map((event) => event.seq));
    expect(seqs).toEqual(Array.from({ length: done.lastSeq }, (_, i) => i + 1));
    expect(updates.flatMap((u) => u.events).filter((e) => e.actor === 'rev').map((e) => e.step)).toEqual(['scopingSignOff', 'resultsSignOff']);
    const progress = updates.map((update) => update.run.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    // The same phases by hand, with the same seed, give the same sample and the same test results.
    const samples = await byHand('selectSamples', { reportId, datasetId, ...SAMPLING });
    expect(samples.result).toMatchObject({ checksum: (stepOf(done, 'samples').result as { checksum: string }).checksum });
    const tests = await byHand('executeTests', { reportId, datasetId });
    expect(tests.result).toEqual(stepOf(done, 'tests').result);
  }, 300_000);
});
