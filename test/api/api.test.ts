import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

/** The API through yoga.fetch: every query and mutation, SSE subscriptions, auth, limits. */
describe('GraphQL API', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let api: Api;
  const TOKENS = 'alice:tok-alice:operator,bob:tok-bob:operator,vic:tok-vic:viewer,root:tok-root:admin';

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('api'), API_TOKENS: TOKENS }));
    system = await harness.start();
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger);
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  const alice = () => client(api.yoga, 'tok-alice');
  const jobCount = async () => (await system.db.query<{ n: number }>('SELECT count(*)::int AS n FROM "Job"'))[0]!.n;

  it('enqueues with the typed mutation, answers at once, and the job runs', async () => {
    const started = performance.now();
    const res = await alice().request(
      `mutation($input: CountWordsInput!) { countWords(input: $input) { deduplicated job { id status type phase backend attempt maxAttempts input createdBy } } }`,
      { input: { text: 'the quick brown fox jumps', chunkSize: 2, pauseMs: 250 } },
    );
    const elapsed = performance.now() - started;
    expect(res.errors).toBeUndefined();
    const job = res.data!.countWords.job;
    expect(job).toMatchObject({ status: 'QUEUED', type: 'demo.countWords', phase: 'PLANNING', backend: 'INLINE', attempt: 0, maxAttempts: 4, createdBy: 'alice' });
    expect(job.input).toEqual({ text: 'the quick brown fox jumps', chunkSize: 2, pauseMs: 250 });
    expect(elapsed).toBeLessThan(1_000); // generous: the point is that it does not wait for the job
    await waitForJob(system, job.id, 'COMPLETED');
    const read = await alice().request(`query($id: ID!) { job(id: $id) { status progress result error { code } finishedAt events { seq kind status progress } } }`, { id: job.id });
    expect(read.data!.job).toMatchObject({ status: 'COMPLETED', progress: 100, result: { words: 5 }, error: null });
    expect(read.data!.job.events.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const tail = await alice().request(`query($id: ID!) { job(id: $id) { events(afterSeq: 2, last: 2) { seq } } }`, { id: job.id });
    expect(tail.data!.job.events).toEqual([{ seq: 5 }, { seq: 6 }]);
  });

  it('tells a caller who it is taken for (me), and an anonymous one to sign in', async () => {
    expect((await client(api.yoga, 'tok-vic').request('{ me { name role } }')).data).toEqual({ me: { name: 'vic', role: 'viewer' } });
    expect((await alice().request('{ me { name role } }')).data).toEqual({ me: { name: 'alice', role: 'operator' } });
    expect((await client(api.yoga).request('{ me { name } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('enqueues many jobs with enqueueJobs: all validated first, written together, idempotent per item', async () => {
    const key = uniqueName('bulk');
    const mutation = `mutation($jobs: [EnqueueJobInput!]!) { enqueueJobs(jobs: $jobs) { deduplicated job { id type priority createdBy } } }`;
    const jobs = [
      { type: 'test.echo', input: { value: 1 }, idempotencyKey: key },
      { type: 'test.echo', input: { value: 2 }, priority: 5 },
      { type: 'demo.countWords', input: { text: 'a b' } },
    ];
    const first = await alice().request(mutation, { jobs });
    expect(first.errors).toBeUndefined();
    const payloads = first.data!.enqueueJobs as { deduplicated: boolean; job: { id: string; type: string; priority: number; createdBy: string } }[];
    expect(payloads.map((p) => [p.job.type, p.job.priority, p.deduplicated, p.job.createdBy])).toEqual([
      ['test.echo', 0, false, 'alice'],
      ['test.echo', 5, false, 'alice'],
      ['demo.countWords', 0, false, 'alice'],
    ]);
    for (const p of payloads) expect(await waitForJob(system, p.job.id)).toMatchObject({ status: 'COMPLETED' });
    // The keyed item again: the same job.
    const again = await alice().request(mutation, { jobs: [jobs[0]] });
    expect(again.data!.enqueueJobs[0]).toMatchObject({ deduplicated: true, job: { id: payloads[0]!.job.id } });

    // One unfit item refuses the whole call, by index and field, and nothing is written.
    const before = await jobCount();
    const bad = await alice().request(mutation, {
      jobs: [{ type: 'test.echo', input: {} }, { type: 'demo.countWords', input: { text: 3 } }, { type: 'nope', input: {} }],
    });
    expect(bad.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      issues: [{ path: 'jobs.1.input.text', message: expect.any(String) }, { path: 'jobs.2.type', message: 'no task named "nope"' }],
    });
    const badPriority = await alice().request(mutation, { jobs: [{ type: 'test.echo', input: {}, priority: 5000 }] });
    expect(badPriority.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'jobs.0.priority' });
    const tooMany = await alice().request(mutation, { jobs: Array.from({ length: 1_001 }, () => ({ type: 'test.echo', input: {} })) });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'jobs' });
    expect(await jobCount()).toBe(before);
    const viewerTry = await client(api.yoga, 'tok-vic').request(mutation, { jobs: [{ type: 'test.echo', input: {} }] });
    expect(viewerTry.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('enqueues any task with enqueueJob, with idempotency, delay and priority', async () => {
    const key = uniqueName('k');
    const mutation = `mutation($input: JSON!, $key: String) { enqueueJob(type: "test.echo", input: $input, idempotencyKey: $key, delayMs: 50, priority: 3) { deduplicated job { id priority runAt createdAt } } }`;
    const first = await alice().request(mutation, { input: { value: 1 }, key });
    const second = await alice().request(mutation, { input: { value: 2 }, key });
    expect(first.data!.enqueueJob.deduplicated).toBe(false);
    expect(second.data!.enqueueJob).toMatchObject({ deduplicated: true, job: { id: first.data!.enqueueJob.job.id, priority: 3 } });
    const { runAt, createdAt } = first.data!.enqueueJob.job;
    expect(Date.parse(runAt) - Date.parse(createdAt)).toBeGreaterThanOrEqual(50);
  });

  it('rejects invalid input with the field path and the zod message, and enqueues nothing', async () => {
    const before = await jobCount();
    const typed = await alice().request(`mutation { countWords(input: { text: "x", chunkSize: 0 }) { job { id } } }`);
    expect(typed.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', issues: [{ path: 'input.chunkSize', message: expect.stringMatching(/>=\s*1/) }] },
    });
    const generic = await alice().request(`mutation { enqueueJob(type: "demo.countWords", input: { text: 5 }) { job { id } } }`);
    expect(generic.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', issues: [{ path: 'input.text' }] });
    const unknown = await alice().request(`mutation { enqueueJob(type: "nope.missing", input: {}) { job { id } } }`);
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'type' });
    const badOption = await alice().request(`mutation { countWords(input: { text: "x" }, priority: 5000) { job { id } } }`);
    expect(badOption.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'priority' });
    const badType = await alice().request(`mutation { countWords(input: { text: 7 }) { job { id } } }`);
    expect(badType.errors?.[0]?.message).toMatch(/String/);
    expect(await jobCount()).toBe(before);
  });

  it('cancels and retries through mutations, with typed errors for illegal moves', async () => {
    const queued = await alice().request(`mutation { enqueueJob(type: "test.echo", input: {}, delayMs: 60000) { job { id } } }`);
    const id = queued.data!.enqueueJob.job.id;
    const cancelled = await alice().request(`mutation($id: ID!) { cancelJob(id: $id) { status finishedAt } }`, { id });
    expect(cancelled.data!.cancelJob.status).toBe('CANCELLED');
    const retried = await alice().request(`mutation($id: ID!) { retryJob(id: $id) { deduplicated job { status } } }`, { id });
    expect(retried.data!.retryJob).toEqual({ deduplicated: false, job: { status: 'QUEUED' } });
    const done = await waitForJob(system, id, 'COMPLETED');
    expect(done.attempt).toBe(1);
    const again = await alice().request(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id });
    expect(again.errors?.[0]).toMatchObject({ message: expect.stringMatching(/cannot go from COMPLETED/), extensions: { code: 'ILLEGAL_TRANSITION' } });
    const missing = await alice().request(`mutation { cancelJob(id: "00000000-0000-4000-8000-000000000000") { status } }`);
    expect(missing.errors?.[0]?.extensions).toEqual({ code: 'JOB_NOT_FOUND' });
  });

  it('lists jobs newest first with cursors and filters', async () => {
    const type = 'test.flaky';
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await client(api.yoga, 'tok-bob').request(`mutation { enqueueJob(type: "${type}", input: { succeedOnAttempt: 1 }) { job { id } } }`);
      ids.push(res.data!.enqueueJob.job.id);
    }
    const bob = client(api.yoga, 'tok-bob');
    const page1 = await bob.request(`{ jobs(first: 2, type: "${type}") { nodes { id } pageInfo { hasNextPage endCursor } } }`);
    expect(page1.data!.jobs.nodes.map((n: { id: string }) => n.id)).toEqual([ids[2], ids[1]]);
    expect(page1.data!.jobs.pageInfo.hasNextPage).toBe(true);
    const page2 = await bob.request(`query($after: String) { jobs(first: 2, type: "${type}", after: $after) { nodes { id } pageInfo { hasNextPage } } }`, {
      after: page1.data!.jobs.pageInfo.endCursor,
    });
    expect(page2.data!.jobs).toEqual({ nodes: [{ id: ids[0] }], pageInfo: { hasNextPage: false } });
    await Promise.all(ids.map((id) => waitForJob(system, id, 'COMPLETED')));
    const byStatus = await bob.request(`{ jobs(status: [COMPLETED], phase: SCOPING) { nodes { id status } } }`);
    expect(byStatus.data!.jobs.nodes.map((n: { id: string }) => n.id).sort()).toEqual([...ids].sort());
    const bad = await bob.request(`{ jobs(first: 0) { nodes { id } } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const badCursor = await bob.request(`{ jobs(after: "nonsense") { nodes { id } } }`);
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('tells the registry and the queue', async () => {
    const res = await alice().request(`{ tasks { name phase mutation inputSchema maxAttempts timeoutMs } queueInfo { backend queueName reason healthy usingFallback eventBus ledger probes { backend ok } queue { waiting delayed active } jobCounts { status type count } workers { id concurrency running } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data!.tasks).toContainEqual(expect.objectContaining({ name: 'demo.countWords', phase: 'PLANNING', mutation: 'countWords' }));
    expect(res.data!.tasks).toContainEqual(expect.objectContaining({ name: 'test.tooSlow', maxAttempts: 2, timeoutMs: 300 }));
    expect(res.data!.queueInfo).toMatchObject({ backend: 'INLINE', reason: 'QUEUE_BACKEND=inline', healthy: true, usingFallback: false, eventBus: 'postgres', ledger: 'postgres' });
    expect(res.data!.queueInfo.workers).toEqual([{ id: system.workerId, concurrency: 4, running: expect.any(Number) }]);
    // QUEUE_NAME scoped to this ledger's identity.
    expect(res.data!.queueInfo.queueName).toMatch(/^api_[0-9a-f]{8}\.[0-9a-f]{12}$/);
    expect(res.data!.queueInfo.jobCounts.length).toBeGreaterThan(0);
  });

  it('tells retention and the throughput of the last minutes, and refuses a window it does not keep', async () => {
    const res = await alice().request(`{ queueInfo { retention { completed failed prunedJobs oldestJobAt } } throughput(minutes: 5) { start completed failed averageDurationMs } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data!.queueInfo.retention).toMatchObject({ completed: '7d', failed: '30d', prunedJobs: 0, oldestJobAt: expect.any(String) });
    const ended = res.data!.throughput.reduce((n: number, b: { completed: number; failed: number }) => n + b.completed + b.failed, 0);
    expect(ended).toBeGreaterThan(0); // the jobs the tests before this one ran
    expect(res.data!.throughput[0]).toMatchObject({ start: expect.any(String), averageDurationMs: expect.any(Number) });
    const bad = await alice().request(`{ throughput(minutes: 0) { start } }`);
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'minutes' });
  });

  it('streams jobProgress over SSE: the job now, every change, then completes', async () => {
    const enq = await alice().request(`mutation { countWords(input: { text: "a b c d e f g h", chunkSize: 2, pauseMs: 250 }) { job { id } } }`);
    const id = enq.data!.countWords.job.id;
    const results = await alice().subscribe<{ jobProgress: { status: string; progress: number; lastSeq: number } }>(
      `subscription($id: ID!) { jobProgress(id: $id) { status progress lastSeq } }`,
      { id },
    );
    const states = results.map((r) => r.data!.jobProgress);
    expect(states.at(-1)).toMatchObject({ status: 'COMPLETED', progress: 100 });
    const seqs = states.map((s) => s.lastSeq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const progress = states.map((s) => s.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress).toContain(50);
  });

  it('runs jobProgress once for subscribers of one job with the same query: each gets every status in order and the end; a caller without rights still gets JOB_NOT_FOUND', async () => {
    const enq = await alice().request(`mutation { countWords(input: { text: "a b c d e f", chunkSize: 2, pauseMs: 250 }) { job { id } } }`);
    const id = enq.data!.countWords.job.id;
    const runs = vi.spyOn(api.live, 'jobProgress');
    try {
      const query = `subscription($id: ID!) { jobProgress(id: $id) { status progress } }`;
      type Progress = { jobProgress: { status: string; progress: number } };
      const [one, two, bob] = await Promise.all([
        alice().subscribe<Progress>(query, { id }),
        alice().subscribe<Progress>(query, { id }),
        client(api.yoga, 'tok-bob').subscribe<Progress>(query, { id }),
      ]);
      expect(bob).toHaveLength(1);
      expect(bob[0]?.errors?.[0]?.extensions?.code).toBe('JOB_NOT_FOUND');
      // Bob's subscription failed its check; alice's two ran one stream.
      expect(runs).toHaveBeenCalledTimes(1);
      for (const results of [one, two]) {
        const states = results.map((r) => r.data!.jobProgress);
        const statuses = states.map((s) => s.status).filter((status, i, all) => status !== all[i - 1]);
        expect(statuses.slice(-2)).toEqual(['RUNNING', 'COMPLETED']);
        expect(states.at(-1)).toEqual({ status: 'COMPLETED', progress: 100 });
        const progress = states.map((s) => s.progress);
        expect(progress).toEqual([...progress].sort((a, b) => a - b));
      }
      expect(two).toEqual(one);
    } finally {
      runs.mockRestore();
    }
  });

  it('replays jobEvents from afterSeq out of the ledger, then completes', async () => {
    const enq = await alice().request(`mutation { countWords(input: { text: "a b c d", chunkSize: 1, pauseMs: 250 }) { job { id } } }`);
    const id = enq.data!.countWords.job.id;
    await waitForJob(system, id, 'COMPLETED');
    const results = await alice().subscribe<{ jobEvents: { seq: number; kind: string; status: string } }>(
      `subscription($id: ID!) { jobEvents(id: $id, afterSeq: 3) { seq kind status } }`,
      { id },
    );
    expect(results.map((r) => r.data!.jobEvents.seq)).toEqual([4, 5, 6, 7]);
    expect(results.at(-1)!.data!.jobEvents).toMatchObject({ kind: 'STATUS', status: 'COMPLETED' });
  });

  it('streams jobUpdates filtered by type', async () => {
    const watch: { id?: string } = {}; // set once the subscription is attached
    const reported = new Set<string>();
    const stream = alice().subscribe<{ jobUpdates: { id: string; status: string; type: string } }>(
      `subscription { jobUpdates(type: "test.refuses") { id status type } }`,
      {},
      { until: (r) => r.data?.jobUpdates.id === watch.id && r.data?.jobUpdates.status === 'FAILED', onResult: (r) => reported.add(r.data!.jobUpdates.id) },
    );
    // Handshake: warm-up jobs of the type until the subscription reports one; it then sees every change.
    const enqueueRefused = async () => (await alice().request(`mutation { enqueueJob(type: "test.refuses", input: {}) { job { id } } }`)).data!.enqueueJob.job.id as string;
    const warmUps = new Set<string>();
    while (![...warmUps].some((id) => reported.has(id))) {
      warmUps.add(await enqueueRefused());
      await waitFor(async () => [...warmUps].some((id) => reported.has(id)), (ok) => ok, 500).catch(() => {});
    }
    await alice().request(`mutation { enqueueJob(type: "test.echo", input: {}) { job { id } } }`);
    // Due 300 ms later: its FAILED must not arrive before the answer that names it, or `until`,
    // which reads watch.id, would let it pass and wait forever.
    const watched = await alice().request(`mutation { enqueueJob(type: "test.refuses", input: {}, delayMs: 300) { job { id } } }`);
    watch.id = watched.data!.enqueueJob.job.id as string;
    const updates = (await stream).map((r) => r.data!.jobUpdates).filter((u) => !warmUps.has(u.id));
    expect(updates.every((u) => u.type === 'test.refuses' && u.id === watch.id)).toBe(true);
    expect(updates.map((u) => u.status)).toEqual(expect.arrayContaining(['QUEUED', 'FAILED']));
  });

  it('masks unexpected errors: no message, no stack, a code', async () => {
    // A system on a ledger of its own, so closing it leaves the others' alone.
    const ledger = await createTestDatabase();
    try {
      const broken = await harness.start({ DATABASE_URL: ledger.url });
      const brokenApi = createApi(broken, workflowReads(broken.db.prisma), harness.config(), broken.logger);
      await broken.db.close(); // the ledger goes away under the API
      const res = await client(brokenApi.yoga, 'tok-alice').request(`{ job(id: "00000000-0000-4000-8000-000000000000") { id } }`);
      expect(res.errors).toEqual([expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
      expect(JSON.stringify(res)).not.toMatch(/stack|\.ts:|closed|pool/i);
      await harness.stop(broken);
    } finally {
      await ledger.drop();
    }
  });

  describe('auth', () => {
    let bobJob: string;
    beforeAll(async () => {
      const res = await client(api.yoga, 'tok-bob').request(`mutation { enqueueJob(type: "test.echo", input: {}) { job { id } } }`);
      bobJob = res.data!.enqueueJob.job.id;
    });

    it('anonymous callers and wrong tokens are UNAUTHENTICATED', async () => {
      const anonymous = await client(api.yoga).request(`{ jobs { nodes { id } } }`);
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const wrong = await client(api.yoga, 'tok-nobody').request(`{ tasks { name } }`);
      expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(wrong.status).toBe(401);
    });

    it('viewers read but cannot enqueue, cancel or retry', async () => {
      const vic = client(api.yoga, 'tok-vic');
      expect((await vic.request(`{ tasks { name } }`)).errors).toBeUndefined();
      expect((await vic.request(`{ jobs { nodes { id } } }`)).data!.jobs.nodes).toEqual([]);
      for (const mutation of [
        `mutation { countWords(input: { text: "x" }) { job { id } } }`,
        `mutation { cancelJob(id: "${bobJob}") { id } }`,
        `mutation { retryJob(id: "${bobJob}") { job { id } } }`,
      ]) {
        expect((await vic.request(mutation)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
    });

    it("operators see and change only their own jobs; someone else's job does not exist for them", async () => {
      const a = alice();
      expect((await a.request(`{ job(id: "${bobJob}") { id } }`)).data!.job).toBeNull();
      expect((await a.request(`mutation { cancelJob(id: "${bobJob}") { id } }`)).errors?.[0]?.extensions?.code).toBe('JOB_NOT_FOUND');
      const ids = (await a.request(`{ jobs(first: 200) { nodes { createdBy } } }`)).data!.jobs.nodes.map((n: { createdBy: string }) => n.createdBy);
      expect(new Set(ids)).toEqual(new Set(['alice']));
      const sub = await a.subscribe(`subscription { jobProgress(id: "${bobJob}") { id } }`);
      expect(sub[0]?.errors?.[0]?.extensions?.code).toBe('JOB_NOT_FOUND');
      const bob = client(api.yoga, 'tok-bob');
      expect((await bob.request(`{ job(id: "${bobJob}") { createdBy } }`)).data!.job).toEqual({ createdBy: 'bob' });
    });

    it('admins see and change every job', async () => {
      const root = client(api.yoga, 'tok-root');
      expect((await root.request(`{ job(id: "${bobJob}") { createdBy } }`)).data!.job).toEqual({ createdBy: 'bob' });
      const owners = (await root.request(`{ jobs(first: 200) { nodes { createdBy } } }`)).data!.jobs.nodes.map((n: { createdBy: string }) => n.createdBy);
      expect(new Set(owners)).toEqual(new Set(['alice', 'bob']));
      await waitForJob(system, bobJob);
      const retried = await root.request(`mutation { enqueueJob(type: "test.refuses", input: {}) { job { id } } }`);
      const id = retried.data!.enqueueJob.job.id;
      await waitForJob(system, id, 'FAILED');
      expect((await root.request(`mutation { retryJob(id: "${id}") { job { status } } }`)).data!.retryJob.job.status).toBe('QUEUED');
    });
  });

  describe('limits', () => {
    it('refuses queries deeper than MAX_QUERY_DEPTH or costlier than MAX_QUERY_COST', async () => {
      const deep = `{ jobs { edges { node { events { seq } } } } }`; // depth 5
      expect((await alice().request(deep)).errors).toBeUndefined();
      const strict = createApi(system, workflowReads(system.db.prisma), harness.config({ MAX_QUERY_DEPTH: '4', MAX_QUERY_COST: '200' }), system.logger);
      const res = await client(strict.yoga, 'tok-alice').request(deep);
      expect(res.errors?.[0]?.message).toMatch(/depth limit of 4 exceeded/i);
      expect(res.data).toBeUndefined();
      const wide = Array.from({ length: 10 }, (_, i) => `j${i}: jobs { nodes { id type status events { seq kind } } }`).join(' ');
      const costly = await client(strict.yoga, 'tok-alice').request(`{ ${wide} }`);
      expect(costly.errors?.[0]?.message).toMatch(/cost limit of 200 exceeded/i);
    });

    it('refuses too many aliases and oversized bodies', async () => {
      const aliases = Array.from({ length: 30 }, (_, i) => `a${i}: tasks { name }`).join(' ');
      expect((await alice().request(`{ ${aliases} }`)).errors?.[0]?.message).toMatch(/alias/i);
      const big = JSON.stringify({ query: `{ tasks { name } }`, variables: { pad: 'x'.repeat(1_100_000) } });
      const response = await api.yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-alice', 'content-length': String(big.length) },
        body: big,
      });
      expect(response.status).toBe(413);
    });

    it('limits batches', async () => {
      const batch = JSON.stringify(Array.from({ length: 11 }, () => ({ query: '{ tasks { name } }' })));
      const response = await api.yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-alice', 'content-length': String(batch.length) },
        body: batch,
      });
      expect(response.status).toBe(413);
      const ok = JSON.stringify(Array.from({ length: 2 }, () => ({ query: '{ tasks { name } }' })));
      const fine = await api.yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-alice', 'content-length': String(ok.length) },
        body: ok,
      });
      expect(((await fine.json()) as unknown[]).length).toBe(2);
    });

    it('refuses cross-site simple requests (CSRF)', async () => {
      const simple = await api.yoga.fetch('http://yoga/graphql?query=%7Btasks%7Bname%7D%7D', { headers: { authorization: 'Bearer tok-alice' } });
      expect(simple.status).toBe(403);
      const withHeader = await api.yoga.fetch('http://yoga/graphql?query=%7Btasks%7Bname%7D%7D', {
        headers: { authorization: 'Bearer tok-alice', 'x-graphql-yoga-csrf': '1', accept: 'application/json' },
      });
      expect(withHeader.status).toBe(200);
    });
  });
});
