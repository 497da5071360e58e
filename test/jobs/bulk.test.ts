import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type LedgerDb } from '../../src/db/client.ts';
import { InvalidInputError } from '../../src/jobs/errors.ts';
import { Ledger } from '../../src/jobs/ledger/index.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestRegistry } from '../fixtures/tasks.ts';
import { createTestDatabase, recordStatements, type SentStatement, type TestDatabase } from '../helpers/database.ts';
import { illegalTransitions } from '../helpers/history.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

/**
 * Search by input and tags, and the bulk actions (JobSystem.cancelJobs, retryJobs): bounded
 * batches, newest first; each job changed as its single action changes it; its history says who;
 * a filter too broad refused; running jobs cancelled in the worker process that holds them.
 */

const HOUR = 3_600_000;
const messages = async (system: JobSystem, jobId: string) => (await system.events(jobId)).map((event) => event.message);

/** The issues of the InvalidInputError `action` throws, as `path: message` strings. */
async function refusal(action: Promise<unknown>): Promise<string[]> {
  const error = await action.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  return (error as InvalidInputError).issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('search by input and tags, bulk retry and cancel (one process)', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('bulk') }));
    system = await harness.start();
  });
  afterAll(async () => {
    await harness?.stopAll();
    // Whatever the tests did, every job's history follows the state table.
    expect(await illegalTransitions(database.url)).toEqual([]);
    await database?.drop();
  });

  it("finds a report's jobs by the tag its tasks give (report:<id>) and by input fields; an enqueue's tags add to the task's", async () => {
    const [r1, r2] = await Promise.all(
      ['one', 'two'].map((name) => system.db.prisma.report.create({ data: { name: `bulk-${name}-${uniqueName('r')}`, regulation: 'FR Y-14Q', description: 'test' } })),
    );
    // Delayed an hour: they wait, and the search sees them as enqueued.
    const attributes = await system.enqueue('planning.generateLlmAttributes', { reportId: r1!.id }, { delayMs: HOUR, tags: ['urgent'] });
    const scoping = await system.enqueue('scoping.generateScopingRecommendations', { reportId: r1!.id }, { delayMs: HOUR });
    const other = await system.enqueue('planning.generateLlmAttributes', { reportId: r2!.id }, { delayMs: HOUR });
    expect(attributes.job.tags).toEqual([`report:${r1!.id}`, 'urgent']);
    expect(scoping.job.tags).toEqual([`report:${r1!.id}`]);
    expect(createTestRegistry().get('sampling.selectSamples').tags!({ reportId: 'r', datasetId: 'd', size: 1, method: 'RANDOM', seed: 1 })).toEqual([
      'report:r',
      'dataset:d',
    ]);

    const ids = async (filter: Parameters<JobSystem['listJobs']>[0]) => (await system.listJobs(filter)).jobs.map((job) => job.id);
    // Newest first, as the list always is.
    expect(await ids({ first: 50, tags: [`report:${r1!.id}`] })).toEqual([scoping.job.id, attributes.job.id]);
    expect(await ids({ first: 50, tags: [`report:${r1!.id}`, 'urgent'] })).toEqual([attributes.job.id]);
    expect(await ids({ first: 50, tags: ['urgent', 'nothing-has-this'] })).toEqual([]);
    expect(await ids({ first: 50, input: { reportId: r1!.id } })).toEqual([scoping.job.id, attributes.job.id]);
    expect(await ids({ first: 50, input: { reportId: r2!.id } })).toEqual([other.job.id]);
    expect(await ids({ first: 50, input: { reportId: r1!.id }, type: 'planning.generateLlmAttributes' })).toEqual([attributes.job.id]);
    expect(await ids({ first: 50, input: { reportId: r1!.id }, status: ['COMPLETED'] })).toEqual([]);
    expect(await ids({ first: 50, input: { reportId: r1!.id }, createdAfter: scoping.job.createdAt })).toEqual([scoping.job.id]);
    expect(await ids({ first: 50, input: { reportId: r1!.id }, createdBefore: scoping.job.createdAt })).toEqual([attributes.job.id]);
    expect(await ids({ first: 50, ids: [other.job.id, attributes.job.id] })).toEqual([other.job.id, attributes.job.id]);

    // Containment reaches into nested values and arrays, as jsonb @> does.
    const nested = await system.enqueue('test.echo', { value: { report: { id: 'n-1', owners: ['ann', 'bo'] } } }, { delayMs: HOUR });
    expect(await ids({ first: 50, input: { value: { report: { owners: ['bo'] } } } })).toEqual([nested.job.id]);
    expect(await ids({ first: 50, input: { value: { report: { id: 'n-2' } } } })).toEqual([]);

    // "Every job of one report": cancelled by its tag in one call.
    const cancelled = await system.cancelJobs({ tags: [`report:${r1!.id}`] }, { by: 'alice' });
    expect(cancelled).toEqual({ matched: [scoping.job.id, attributes.job.id], changed: [scoping.job.id, attributes.job.id], hasMore: false });
    expect((await system.getJob(other.job.id))!.status).toBe('QUEUED');
    await system.cancelJobs({ ids: [other.job.id, nested.job.id] });
  });

  it('cancel: at most `limit` a call, newest first, hasMore until none is left; each history says who, in a bulk cancel; finished jobs untouched', async () => {
    const tag = uniqueName('batch');
    const done = await system.enqueue('test.echo', { value: 'done' }, { tags: [tag] });
    await waitForJob(system, done.job.id, 'COMPLETED');
    const waiting: string[] = [];
    for (let i = 0; i < 5; i++) waiting.push((await system.enqueue('test.echo', { value: i }, { delayMs: HOUR, tags: [tag] })).job.id);
    const newestFirst = [...waiting].reverse();

    const dry = await system.cancelJobs({ tags: [tag] }, { limit: 2, dryRun: true, by: 'alice' });
    expect(dry).toEqual({ matched: newestFirst.slice(0, 2), changed: [], hasMore: true });
    expect((await system.getJob(newestFirst[0]!))!.status).toBe('QUEUED'); // a dry run changes nothing

    const batches = [];
    for (let call = 0; call < 4; call++) batches.push(await system.cancelJobs({ tags: [tag] }, { limit: 2, by: 'alice' }));
    expect(batches.map((batch) => [batch.changed, batch.hasMore])).toEqual([
      [newestFirst.slice(0, 2), true],
      [newestFirst.slice(2, 4), true],
      [newestFirst.slice(4), false],
      [[], false],
    ]);
    for (const id of waiting) {
      expect((await system.getJob(id))!.status).toBe('CANCELLED');
      expect(await messages(system, id)).toContain('cancelled by alice, in a bulk cancel');
    }
    expect((await system.getJob(done.job.id))!.status).toBe('COMPLETED');
  });

  it('retry: only the FAILED and CANCELLED jobs it matches, each as retryJob does (a new attempt), its history saying who', async () => {
    const tag = uniqueName('again');
    const failed = await Promise.all([1, 2, 3].map(() => system.enqueue('test.refuses', {}, { tags: [tag] })));
    const completed = await system.enqueue('test.echo', {}, { tags: [tag] });
    const cancelled = await system.enqueue('test.echo', { value: 'c' }, { tags: [tag], delayMs: HOUR });
    await system.cancel(cancelled.job.id);
    for (const { job } of failed) await waitForJob(system, job.id, 'FAILED');
    await waitForJob(system, completed.job.id, 'COMPLETED');

    // The filter's statuses narrow what the action applies to; none of COMPLETED's is retried.
    expect(await system.retryJobs({ tags: [tag], status: ['COMPLETED', 'RUNNING'] })).toEqual({ matched: [], changed: [], hasMore: false });

    const result = await system.retryJobs({ tags: [tag] }, { by: 'bob' });
    const expected = [cancelled.job.id, ...failed.map(({ job }) => job.id).reverse()];
    expect(result.matched.toSorted()).toEqual(expected.toSorted());
    expect(result.changed.toSorted()).toEqual(expected.toSorted());
    expect(result.hasMore).toBe(false);
    for (const { job } of failed) {
      // It ran again, as attempt 2, and failed again (it always refuses).
      await waitFor(async () => (await system.getJob(job.id))!, (now) => now.status === 'FAILED' && now.attempt === 2, 10_000, 'the retried job to fail again');
      expect(await messages(system, job.id)).toContain('retried by bob, in a bulk retry');
    }
    expect(await waitForJob(system, cancelled.job.id, 'COMPLETED')).toMatchObject({ attempt: 1 });
    expect((await system.getJob(completed.job.id))!).toMatchObject({ status: 'COMPLETED', attempt: 1 });
  });

  it('two bulk cancels of the same jobs at once: each job is cancelled once, by one of them, and neither fails', async () => {
    const tag = uniqueName('race');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await system.enqueue('test.echo', { value: i }, { delayMs: HOUR, tags: [tag] })).job.id);
    const [a, b] = await Promise.all([system.cancelJobs({ tags: [tag] }, { by: 'a' }), system.cancelJobs({ tags: [tag] }, { by: 'b' })]);
    expect([...a!.changed, ...b!.changed].toSorted()).toEqual(ids.toSorted());
    for (const id of ids) {
      const history = (await messages(system, id)).filter((message) => message?.startsWith('cancelled by'));
      expect(history).toHaveLength(1);
    }
  });

  it('refuses a filter that names no ids, task, phase, tags or input unless all: true, and a filter or a limit out of bounds', async () => {
    const broad = 'filter: the filter names no ids, task, phase, tags or input: it would act on every job of these statuses; narrow it, or say all: true';
    expect(await refusal(system.cancelJobs({}))).toEqual([broad]);
    expect(await refusal(system.cancelJobs({ status: ['QUEUED'], createdBy: 'olga', createdAfter: new Date(0) }))).toEqual([broad]);
    expect(await refusal(system.retryJobs({ input: {} }))).toEqual([broad]);
    expect(await system.cancelJobs({ status: ['QUEUED'] }, { all: true, dryRun: true })).toMatchObject({ changed: [] });

    expect(await refusal(system.retryJobs({ tags: [''] }))).toEqual(['filter.tags.0: tags must be at most 20 strings of 1 to 100 characters']);
    expect(await refusal(system.retryJobs({ ids: ['not-an-id'] }))).toEqual(['filter.ids.0: not a job id']);
    expect(await refusal(system.cancelJobs({ type: 'test.echo' }, { limit: 1_001 }))).toEqual(['limit: limit must be a whole number from 1 to 1000']);
    expect(await refusal(system.cancelJobs({ type: 'test.echo' }, { limit: 0 }))).toEqual(['limit: limit must be a whole number from 1 to 1000']);
  });
});

describe('a bulk cancel of jobs running in another process', () => {
  let database: TestDatabase;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('bulkx') }));
  });
  afterAll(async () => {
    await harness?.stopAll();
    expect(await illegalTransitions(database.url)).toEqual([]);
    await database?.drop();
  });

  it('aborts each one in the worker process that holds it (CANCELLING, then CANCELLED when its handler saw the abort)', async () => {
    const api = await harness.start({}, { worker: false });
    const { workerId } = await harness.spawnWorker();
    const tag = uniqueName('long');
    const jobs = await Promise.all([1, 2, 3].map(() => api.enqueue('test.sleep', { ms: 120_000 }, { tags: [tag] })));
    for (const { job } of jobs) expect(await waitForJob(api, job.id, 'RUNNING')).toMatchObject({ lockedBy: workerId });

    const result = await api.cancelJobs({ type: 'test.sleep', tags: [tag] }, { by: 'olga' });
    expect(result.changed.toSorted()).toEqual(jobs.map(({ job }) => job.id).toSorted());
    for (const { job } of jobs) {
      expect(await waitForJob(api, job.id, 'CANCELLED', 10_000)).toMatchObject({ lockedBy: null });
      const history = await messages(api, job.id);
      expect(history).toContain('cancelled by olga, in a bulk cancel');
      expect(history).toContain('saw abort: CANCELLED'); // the handler, in the other process, saw its signal abort
      expect((await api.events(job.id)).map((event) => event.status)).toContain('CANCELLING');
    }
  });
});

describe('the search on a ledger with history reads the GIN indexes', () => {
  let database: TestDatabase;
  let client: pg.Client;
  let ldb: LedgerDb;
  const sent: SentStatement[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    // 50,000 finished jobs of 1,000 reports: 50 each.
    await client.query(
      `INSERT INTO "Job" (id, type, phase, status, input, tags, "maxAttempts", backend, "createdAt", "finishedAt")
       SELECT gen_random_uuid(), 'planning.generateLlmAttributes', 'PLANNING', (CASE WHEN g % 7 = 0 THEN 'FAILED' ELSE 'COMPLETED' END)::"JobStatus",
              jsonb_build_object('reportId', 'r-' || (g % 1000), 'n', g), ARRAY['report:r-' || (g % 1000)], 1, 'INLINE',
              now() - g * interval '1 second', now() - g * interval '1 second'
       FROM generate_series(1, 50000) g`,
    );
    // Statistics from every row, not ANALYZE's random sample of 30,000: the plan is then the same
    // on every run (with a sample, the estimate for one report's jobs varied, and so did the plan).
    await client.query('ALTER TABLE "Job" ALTER COLUMN input SET STATISTICS 1000, ALTER COLUMN tags SET STATISTICS 1000');
    await client.query('ANALYZE "Job"');
    ldb = await openLedger({ databaseUrl: database.url, migrate: false });
    recordStatements(ldb, sent);
  }, 120_000);
  afterAll(async () => {
    await ldb?.close();
    await client?.end();
    await database?.drop();
  });

  const plan = async ({ sql, params }: { sql: string; params: unknown[] }) =>
    (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${sql}`, params)).rows.map((row) => row['QUERY PLAN']).join('\n');

  it('jobs(filter: { input }) reads Job_input_idx and jobs(filter: { tags }) Job_tags_idx, not the table', async () => {
    const ledger = new Ledger(ldb);
    const byInput = await ledger.queries.listJobs({ first: 20, input: { reportId: 'r-7' } });
    expect(byInput.jobs).toHaveLength(20);
    expect(byInput.jobs.every((job) => (job.input as { reportId: string }).reportId === 'r-7')).toBe(true);
    const inputPlan = await plan(sent.at(-1)!);
    expect(inputPlan, inputPlan).toContain('Job_input_idx');
    expect(inputPlan, inputPlan).not.toMatch(/Seq Scan on "Job"/);

    const byTag = await ledger.queries.matchingIds({ tags: ['report:r-7'] }, ['FAILED', 'CANCELLED'], 100);
    expect(byTag.ids.length).toBeGreaterThan(0);
    const tagPlan = await plan(sent.at(-1)!);
    expect(tagPlan, tagPlan).toContain('Job_tags_idx');
    expect(tagPlan, tagPlan).not.toMatch(/Seq Scan on "Job"/);
  });
});
