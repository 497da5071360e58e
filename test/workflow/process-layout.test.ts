/**
 * The workflow in the process layout users run: an API process that runs no worker, and a worker
 * process of its own, on BullMQ and on pg-boss. Every phase goes through the API's mutations and
 * runs in the worker process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

describe.each(['bullmq', 'pgboss'])('the workflow with a worker process on %s', (backend) => {
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;
  let yoga: Api;
  let workerId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: backend, QUEUE_NAME: uniqueName('wfp'), PGBOSS_SCHEMA: uniqueName('pgboss'), WORKER_IN_PROCESS: 'false' }),
    );
    api = await harness.start({}, { worker: false });
    yoga = createApi(api, workflowReads(api.db.prisma), harness.config(), api.logger);
    ({ workerId } = await harness.spawnWorker());
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  async function run(mutation: string, input: Record<string, unknown>) {
    const name = mutation.charAt(0).toUpperCase() + mutation.slice(1);
    const res = await client(yoga.yoga).request(`mutation($input: ${name}Input!) { ${mutation}(input: $input) { job { id } } }`, { input });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const job = await waitForJob(api, (res.data as Record<string, { job: { id: string } }>)[mutation]!.job.id, undefined, 60_000);
    expect(job.status, `${mutation}: ${job.errorCode}: ${job.errorMessage}`).toBe('COMPLETED');
    const runs = (await api.events(job.id)).filter((e) => e.kind === 'STATUS' && e.status === 'RUNNING');
    expect(runs.map((e) => e.message)).toEqual([`running on ${workerId}`]);
    return job.result as Record<string, unknown>;
  }

  it('runs every phase in the worker process, from the demo data to the test results', async () => {
    await run('seedDemoData', { records: 2_000 });
    const ids = await client(yoga.yoga).request('{ reports { id } datasets { id } }');
    const reportId = ids.data!.reports[0].id as string;
    const datasetId = ids.data!.datasets[0].id as string;
    expect(await run('generateLlmAttributes', { reportId })).toMatchObject({ method: 'HEURISTIC' });
    expect((await run('regeneratePdeMappings', { reportId })).mappings).toBeGreaterThan(0);
    expect((await run('generateScopingRecommendations', { reportId })).inScope).toBeGreaterThan(0);
    expect(await run('selectSamples', { reportId, datasetId, size: 100, method: 'RISK_BASED', seed: 5 })).toMatchObject({ selected: 100 });
    expect((await run('generateProfilingRules', { reportId })).rules).toBeGreaterThan(0);
    expect(await run('profileDataset', { datasetId })).toMatchObject({ rows: 2_000 });
    const tests = await run('executeTests', { reportId, datasetId });
    expect(tests.total).toBe((tests.samples as number) * (tests.rules as number));
  });
});
