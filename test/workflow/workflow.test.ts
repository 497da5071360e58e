/**
 * The workflow end to end, through the GraphQL mutations and queries a newcomer would use, on the
 * in-process queue, BullMQ and pg-boss: the demo data (a small dataset), then the seven phase tasks in
 * order. The LLM is the offline heuristic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTaskDeps } from '../../src/tasks/deps.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

const RECORDS = 3_000;

describe.each(['inline', 'bullmq', 'pgboss'])('the workflow on %s', (backend) => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let api: Api;
  let reportId: string;
  let datasetId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: backend, QUEUE_NAME: uniqueName('wf'), PGBOSS_SCHEMA: uniqueName('pgboss'), API_TOKENS: 'op:tok-op:operator,vic:tok-vic:viewer' }),
    );
    system = await harness.start({}, { deps: createTaskDeps({ LLM_CONCURRENCY: 4 }) });
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger);
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  const operator = () => client(api.yoga, 'tok-op');
  const viewer = () => client(api.yoga, 'tok-vic');

  /** Runs a task mutation and waits for its job; returns the finished job. */
  async function run(mutation: string, input: Record<string, unknown>) {
    const res = await operator().request(`mutation($input: ${pascal(mutation)}Input!) { ${mutation}(input: $input) { job { id } } }`, { input });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const job = await waitForJob(system, (res.data as Record<string, { job: { id: string } }>)[mutation]!.job.id, undefined, 60_000);
    expect(job.status, `${mutation}: ${job.errorCode}: ${job.errorMessage}`).toBe('COMPLETED');
    return job;
  }

  async function progressOf(jobId: string): Promise<number[]> {
    return (await system.events(jobId)).filter((e) => e.kind === 'PROGRESS').map((e) => e.progress);
  }

  it('loads the demo as a job, with progress', async () => {
    const job = await run('seedDemoData', { records: RECORDS });
    expect(job.result).toMatchObject({ records: RECORDS, dataElements: expect.any(Number) });
    const listed = await viewer().request(`{ reports { id name } datasets { id name recordCount table } dataElements { id } }`);
    expect(listed.errors).toBeUndefined();
    reportId = listed.data!.reports[0].id;
    datasetId = listed.data!.datasets[0].id;
    expect(listed.data!.datasets[0]).toMatchObject({ recordCount: RECORDS, table: 'loans' });
    expect(listed.data!.dataElements.length).toBeGreaterThanOrEqual(90);
    const progress = await progressOf(job.id);
    expect(progress.at(-1)).toBe(100);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('refuses unknown ids at enqueue, by field, and writes no job', async () => {
    const before = (await system.db.query<{ n: number }>('SELECT count(*)::int AS n FROM "Job"'))[0]!.n;
    const res = await operator().request(`mutation { selectSamples(input: { reportId: "nope", datasetId: "${datasetId}", size: 5, method: RANDOM }) { job { id } } }`);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'input.reportId', message: 'no report with id nope' }] });
    const forbidden = await viewer().request(`mutation { generateLlmAttributes(input: { reportId: "${reportId}" }) { job { id } } }`);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await system.db.query<{ n: number }>('SELECT count(*)::int AS n FROM "Job"'))[0]!.n).toBe(before);
  });

  it('PLANNING: proposes attributes and maps them; a re-run gives the same state', async () => {
    const first = await run('generateLlmAttributes', { reportId });
    expect(first.result).toMatchObject({ method: 'HEURISTIC', attributes: expect.any(Number) });
    const again = await run('generateLlmAttributes', { reportId });
    expect(again.result).toEqual(first.result);
    const mapped = await run('regeneratePdeMappings', { reportId });
    expect((mapped.result as { mappings: number }).mappings).toBeGreaterThan(0);
    const progress = await progressOf(mapped.id);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const read = await viewer().request(`query($id: ID!) { report(id: $id) { attributes { name isKey mappings { dataElement { table column } confidence method } } } }`, { id: reportId });
    const attributes = read.data!.report.attributes as { name: string; mappings: { dataElement: { table: string; column: string } }[] }[];
    expect(attributes.length).toBe((first.result as { attributes: number }).attributes);
    const amount = attributes.find((a) => /principal amount/i.test(a.name));
    expect(amount?.mappings[0]?.dataElement).toEqual({ table: 'loans', column: 'principal_amount' });
    const remapped = await run('regeneratePdeMappings', { reportId });
    expect(remapped.result).toEqual(mapped.result);
  });

  it('SCOPING: a recommendation per attribute', async () => {
    const job = await run('generateScopingRecommendations', { reportId });
    const { inScope, outOfScope } = job.result as { inScope: number; outOfScope: number };
    expect(inScope).toBeGreaterThan(0);
    const read = await viewer().request(`query($id: ID!) { report(id: $id) { attributes { recommendation { decision riskScore rationale } } } }`, { id: reportId });
    const decisions = (read.data!.report.attributes as { recommendation: { decision: string } | null }[]).map((a) => a.recommendation?.decision);
    expect(decisions.filter((d) => d === 'IN_SCOPE').length).toBe(inScope);
    expect(decisions.filter((d) => d === 'OUT_OF_SCOPE').length).toBe(outOfScope);
  });

  it('SAMPLE_SELECTION: reproducible by seed, each method', async () => {
    const a = await run('selectSamples', { reportId, datasetId, size: 200, method: 'RANDOM', seed: 7 });
    const b = await run('selectSamples', { reportId, datasetId, size: 200, method: 'RANDOM', seed: 7 });
    const c = await run('selectSamples', { reportId, datasetId, size: 200, method: 'RANDOM', seed: 8 });
    expect(a.result).toMatchObject({ selected: 200 });
    expect((b.result as { checksum: string }).checksum).toBe((a.result as { checksum: string }).checksum);
    expect((c.result as { checksum: string }).checksum).not.toBe((a.result as { checksum: string }).checksum);
    const stratified = await run('selectSamples', { reportId, datasetId, size: 100, method: 'STRATIFIED', seed: 1 });
    const strata = (stratified.result as { strata: Record<string, number> }).strata;
    expect(Object.values(strata).reduce((x, y) => x + y, 0)).toBe(100);
    expect(Object.keys(strata).sort()).toEqual(['AUTO', 'CARD', 'CRE', 'MORT', 'SME']);
    const risky = await run('selectSamples', { reportId, datasetId, size: 150, method: 'RISK_BASED', seed: 3 });
    expect(risky.result).toMatchObject({ selected: 150, method: 'RISK_BASED' });
    const read = await viewer().request(`query($id: ID!) { report(id: $id) { sampleCount samples(first: 3) { row method seed } } }`, { id: reportId });
    expect(read.data!.report).toMatchObject({ sampleCount: 150, samples: [{ method: 'RISK_BASED', seed: 3 }, {}, {}] });
    const tooMany = await operator().request(`mutation { selectSamples(input: { reportId: "${reportId}", datasetId: "${datasetId}", size: ${RECORDS + 1}, method: RANDOM }) { job { id } } }`);
    const failed = await waitForJob(system, tooMany.data!.selectSamples.job.id);
    expect(failed).toMatchObject({ status: 'FAILED', attempt: 1, errorCode: 'UNFIT_REQUEST' });
  });

  it('DATA_PROFILING: rules per attribute, and the statistics of every column', async () => {
    const rules = await run('generateProfilingRules', { reportId });
    expect((rules.result as { rules: number }).rules).toBeGreaterThan(0);
    const profile = await run('profileDataset', { datasetId });
    const result = profile.result as { rows: number; columns: { column: string; nulls: number; count: number }[] };
    expect(result.rows).toBe(RECORDS);
    expect(result.columns.map((c) => c.column)).toContain('principal_amount');
    const read = await viewer().request(`query($id: ID!) { dataset(id: $id) { profile { rows columns } } }`, { id: datasetId });
    expect(read.data!.dataset.profile.rows).toBe(RECORDS);
  });

  it('TEST_EXECUTION: every rule on every sample, recorded; a re-run replaces the run', async () => {
    const job = await run('executeTests', { reportId, datasetId });
    const { total, passed, failed, samples, rules } = job.result as Record<string, number>;
    expect(total).toBe(samples! * rules!);
    expect(passed! + failed!).toBe(total);
    expect(failed).toBeGreaterThan(0); // the demo has bad values to find
    const read = await viewer().request(`query($id: ID!) { report(id: $id) { testRuns { id total failed results(failedOnly: true, first: 5) { row attribute passed message } } } }`, { id: reportId });
    const runs = read.data!.report.testRuns as { id: string; total: number; failed: number; results: { passed: boolean; message: string }[] }[];
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: job.id, total, failed });
    expect(runs[0]!.results.every((r) => !r.passed && r.message)).toBe(true);
    const again = await run('executeTests', { reportId, datasetId });
    expect(again.result).toEqual(job.result);
    const after = await viewer().request(`query($id: ID!) { report(id: $id) { testRuns { id } } }`, { id: reportId });
    expect(after.data!.report.testRuns).toEqual([{ id: again.id }]);
  });

  it('a cancelled test run leaves no results behind', async () => {
    const res = await operator().request(`mutation { executeTests(input: { reportId: "${reportId}", datasetId: "${datasetId}" }) { job { id } } }`);
    const id = res.data!.executeTests.job.id as string;
    await waitForJob(system, id, 'RUNNING');
    await system.cancel(id);
    const done = await waitForJob(system, id);
    if (done.status === 'CANCELLED') {
      expect(await system.db.prisma.testRun.findUnique({ where: { id } })).toBeNull();
    } else {
      // Finished before the cancel landed: then it is the report's run, whole.
      expect(done.status).toBe('COMPLETED');
    }
    const runs = await system.db.prisma.testRun.findMany({ where: { reportId } });
    expect(runs.every((r) => r.status === 'COMPLETED')).toBe(true);
  });
});

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
