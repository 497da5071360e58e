import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

/**
 * Search and bulk actions through GraphQL: jobs(filter: { tags, input, ids, … }), the `tags`
 * enqueue option, Job.tags and scheduleId, cancelJobs and retryJobs (operator role, own jobs
 * unless admin, bounded, the broad-filter rule, errors with a code and the field).
 */
describe('GraphQL: search by tags and input, bulk cancel and retry', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let api: Api;
  const TOKENS = 'alice:tok-alice:operator,bob:tok-bob:operator,vic:tok-vic:viewer,rita:tok-rita:approver,root:tok-root:admin';
  const HOUR = 3_600_000;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('apibulk'), API_TOKENS: TOKENS }));
    system = await harness.start();
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger);
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  const as = (who: 'alice' | 'bob' | 'vic' | 'rita' | 'root') => client(api.yoga, `tok-${who}`);
  const BULK = `matched matchedIds acted ids hasMore dryRun`;
  const cancelJobs = `mutation($filter: JobFilter!, $limit: Int, $all: Boolean, $dryRun: Boolean) { cancelJobs(filter: $filter, limit: $limit, all: $all, dryRun: $dryRun) { ${BULK} } }`;
  const retryJobs = `mutation($filter: JobFilter!, $limit: Int, $all: Boolean, $dryRun: Boolean) { retryJobs(filter: $filter, limit: $limit, all: $all, dryRun: $dryRun) { ${BULK} } }`;
  const listIds = async (who: 'alice' | 'root', filter: Record<string, unknown>) => {
    const res = await as(who).request(`query($filter: JobFilter) { jobs(first: 50, filter: $filter) { nodes { id } } }`, { filter });
    expect(res.errors).toBeUndefined();
    return (res.data!.jobs.nodes as { id: string }[]).map((node) => node.id);
  };
  const enqueue = async (who: 'alice' | 'bob', type: string, input: unknown, extra: Record<string, unknown> = {}) => {
    const res = await as(who).request(
      `mutation($type: String!, $input: JSON!, $tags: [String!], $delayMs: Int) { enqueueJob(type: $type, input: $input, tags: $tags, delayMs: $delayMs) { job { id tags scheduleId } } }`,
      { type, input, ...extra },
    );
    expect(res.errors).toBeUndefined();
    return res.data!.enqueueJob.job as { id: string; tags: string[]; scheduleId: string | null };
  };

  it('enqueues with tags (enqueueJob, enqueueJobs, the typed mutations) and finds jobs by tags, input, ids and status', async () => {
    const tag = uniqueName('t');
    const one = await enqueue('alice', 'test.echo', { value: { order: 'o-1' } }, { tags: [tag, 'x'], delayMs: HOUR });
    expect(one).toMatchObject({ tags: [tag, 'x'], scheduleId: null });
    const many = await as('alice').request(`mutation($jobs: [EnqueueJobInput!]!) { enqueueJobs(jobs: $jobs) { job { id tags } } }`, {
      jobs: [{ type: 'test.echo', input: { value: { order: 'o-2' } }, tags: [tag], delayMs: HOUR }],
    });
    expect(many.data!.enqueueJobs[0].job.tags).toEqual([tag]);
    const typed = await as('alice').request(`mutation { countWords(input: { text: "a b", pauseMs: 0 }, tags: ["${tag}"], delayMs: ${HOUR}) { job { id tags } } }`);
    expect(typed.errors).toBeUndefined();
    const two = many.data!.enqueueJobs[0].job.id as string;
    const three = typed.data!.countWords.job.id as string;

    expect(await listIds('alice', { tags: [tag] })).toEqual([three, two, one.id]);
    expect(await listIds('alice', { tags: [tag, 'x'] })).toEqual([one.id]);
    expect(await listIds('alice', { input: { value: { order: 'o-2' } } })).toEqual([two]);
    expect(await listIds('alice', { tags: [tag], type: 'test.echo', status: ['QUEUED'] })).toEqual([two, one.id]);
    expect(await listIds('alice', { ids: [one.id, three] })).toEqual([three, one.id]);
    // The argument forms still work beside the filter.
    const mixed = await as('alice').request(`query($filter: JobFilter) { jobs(type: "demo.countWords", filter: $filter) { nodes { id } } }`, { filter: { tags: [tag] } });
    expect(mixed.data!.jobs.nodes).toEqual([{ id: three }]);
    // Someone else's jobs are not found, whatever the filter says; an admin finds them.
    const bobs = await enqueue('bob', 'test.echo', { value: { order: 'o-1' } }, { tags: [tag], delayMs: HOUR });
    expect(await listIds('alice', { tags: [tag] })).not.toContain(bobs.id);
    expect(await listIds('root', { tags: [tag] })).toContain(bobs.id);
  });

  it('refuses an unfit filter or tags with BAD_USER_INPUT naming the field', async () => {
    const codeAndField = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => [res.errors?.[0]?.extensions?.code, res.errors?.[0]?.extensions?.field];
    const jobs = (filter: unknown, extra = '') => as('alice').request(`query($filter: JobFilter) { jobs(filter: $filter${extra}) { nodes { id } } }`, { filter });
    expect(codeAndField(await jobs({ input: [1, 2] }))).toEqual(['BAD_USER_INPUT', 'filter.input']);
    expect(codeAndField(await jobs({ input: 'reportId' }))).toEqual(['BAD_USER_INPUT', 'filter.input']);
    expect(codeAndField(await jobs({ tags: ['a', ''] }))).toEqual(['BAD_USER_INPUT', 'filter.tags.1']);
    expect(codeAndField(await jobs({ ids: ['nope'] }))).toEqual(['BAD_USER_INPUT', 'filter.ids.0']);
    expect(codeAndField(await jobs({ type: 'test.echo' }, ', type: "test.echo"'))).toEqual(['BAD_USER_INPUT', 'filter.type']);
    const tooMany = await as('alice').request(`mutation { enqueueJob(type: "test.echo", input: {}, tags: [${Array.from({ length: 21 }, (_, i) => `"t${i}"`).join(',')}]) { job { id } } }`);
    expect(codeAndField(tooMany)).toEqual(['BAD_USER_INPUT', 'tags']);
  });

  it('cancelJobs: operators only, their own jobs (admins every one), bounded with hasMore, history says who', async () => {
    const tag = uniqueName('c');
    const alices = [];
    for (let i = 0; i < 3; i++) alices.push((await enqueue('alice', 'test.echo', { value: i }, { tags: [tag], delayMs: HOUR })).id);
    const bobs = (await enqueue('bob', 'test.echo', { value: 'bob' }, { tags: [tag], delayMs: HOUR })).id;

    for (const who of ['vic', 'rita'] as const) {
      const refused = await as(who).request(cancelJobs, { filter: { tags: [tag] } });
      expect(refused.errors?.[0]?.extensions?.code, who).toBe('FORBIDDEN');
    }
    expect((await client(api.yoga).request(cancelJobs, { filter: { tags: [tag] } })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const dry = await as('alice').request(cancelJobs, { filter: { tags: [tag] }, dryRun: true });
    expect(dry.data!.cancelJobs).toEqual({ matched: 3, matchedIds: [...alices].reverse(), acted: 0, ids: [], hasMore: false, dryRun: true });

    const first = await as('alice').request(cancelJobs, { filter: { tags: [tag] }, limit: 2 });
    expect(first.data!.cancelJobs).toMatchObject({ matched: 2, acted: 2, ids: [alices[2], alices[1]], hasMore: true, dryRun: false });
    const rest = await as('alice').request(cancelJobs, { filter: { tags: [tag] }, limit: 2 });
    expect(rest.data!.cancelJobs).toMatchObject({ matched: 1, acted: 1, ids: [alices[0]], hasMore: false });
    // Bob's job was never alice's to cancel.
    expect((await system.getJob(bobs))!.status).toBe('QUEUED');
    for (const id of alices) expect((await system.events(id)).map((event) => event.message)).toContain('cancelled by alice, in a bulk cancel');

    const byAdmin = await as('root').request(cancelJobs, { filter: { tags: [tag] } });
    expect(byAdmin.data!.cancelJobs).toMatchObject({ acted: 1, ids: [bobs] });
    expect((await system.events(bobs)).map((event) => event.message)).toContain('cancelled by root, in a bulk cancel');
  });

  it('retryJobs: the FAILED and CANCELLED jobs matched, each a new attempt; a filter of only statuses needs all: true', async () => {
    const tag = uniqueName('r');
    const failed = await Promise.all([1, 2].map(() => enqueue('alice', 'test.refuses', {}, { tags: [tag] })));
    for (const job of failed) await waitForJob(system, job.id, 'FAILED');

    const broad = await as('alice').request(retryJobs, { filter: { status: ['FAILED'] } });
    expect(broad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter' });
    expect(broad.errors?.[0]?.message).toMatch(/narrow it, or say all: true/);
    const badLimit = await as('alice').request(retryJobs, { filter: { tags: [tag] }, limit: 5_000 });
    expect(badLimit.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
    // With all: true, a dry run over every FAILED job of alice's (not bob's) says how many.
    const all = await as('alice').request(retryJobs, { filter: { status: ['FAILED'] }, all: true, dryRun: true });
    expect(all.errors).toBeUndefined();
    expect(all.data!.retryJobs.matchedIds).toEqual(expect.arrayContaining(failed.map((job) => job.id)));

    const res = await as('alice').request(retryJobs, { filter: { tags: [tag] } });
    expect(res.errors).toBeUndefined();
    expect(res.data!.retryJobs.ids.toSorted()).toEqual(failed.map((job) => job.id).toSorted());
    for (const job of failed) {
      await waitFor(async () => (await system.getJob(job.id))!, (now) => now.status === 'FAILED' && now.attempt === 2, 10_000, 'the retried job to fail again');
      expect((await system.events(job.id)).map((event) => event.message)).toContain('retried by alice, in a bulk retry');
    }
  });
});
