import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limits } from '../../src/jobs/limits/limits.ts';
import { LimitLedger } from '../../src/jobs/ledger/limits.ts';
import { openLedger } from '../../src/db/client.ts';
import { applyOverrides } from '../../src/jobs/limits/definition.ts';
import { parseLimitsSetting } from '../../src/lib/limits-setting.ts';
import { createTaskDeps } from '../../src/tasks/deps.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { ChatServer, completion } from '../domain/llm/chat-server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

const LIMITS = 'burst:requests=5/2s;tokens:tokens=1000/2s;pair:concurrency=2;stop';

/** Shared limits (src/jobs/limits) on one ledger: windows, tokens, slots, leases and pauses as every process sees them. */
describe('shared limits', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let chat: ChatServer;
  beforeAll(async () => {
    database = await createTestDatabase();
    chat = await ChatServer.start();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('limits'), LIMITS, LLM_BASE_URL: chat.baseUrl, LLM_MODEL: 'test-model' }));
    system = await harness.start({}, { deps: createTaskDeps(harness.config()) });
  });
  afterAll(async () => {
    await harness?.stopAll();
    await chat?.close();
    await database?.drop();
  });

  it('grants a window\'s requests at once and the next one only when the first has left the window', async () => {
    const started = Date.now();
    const permits = await Promise.all(Array.from({ length: 5 }, () => system.limits.take('burst')));
    expect(Date.now() - started).toBeLessThan(1_500);
    await Promise.all(permits.map((p) => p.done()));
    await system.limits.take('burst');
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });

  it('counts tokens by estimate until the call settles them with what it used', async () => {
    const first = await system.limits.take('tokens', { tokens: 600 });
    let second = false;
    const next = system.limits.take('tokens', { tokens: 600 }).then((p) => ((second = true), p));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(second).toBe(false);
    const settled = Date.now();
    await first.done(100);
    await (await next).done(600);
    expect(Date.now() - settled).toBeLessThan(1_000);
  });

  it('holds at most its concurrency across processes, and a holder that stops renewing gives its slot back when its lease runs out', async () => {
    // Another process's view of the same limits: it takes both slots, then dies (stops renewing).
    const other = new Limits({ ledger: system.ledger.limits, limits: applyOverrides([], parseLimitsSetting(LIMITS)), leaseMs: 1_000, logger: system.logger });
    await other.take('pair');
    await other.take('pair');
    other.close();
    const states = await system.limits.states();
    expect(states.find((s) => s.name === 'pair')).toMatchObject({ held: 2 });
    const started = Date.now();
    const permit = await system.limits.take('pair');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThan(500);
    expect(waited).toBeLessThan(3_000);
    await permit.done();
  });

  it('a slot given back twice is counted once', async () => {
    const permit = await system.limits.take('pair');
    const [holder] = (await system.db.query<{ holder: string }>(`SELECT holder FROM "FlowLimitLease" WHERE "limit" = 'pair' AND holding`)).map((r) => r.holder);
    const other = await system.limits.take('pair');
    await permit.done();
    await system.ledger.limits.release('pair', holder!);
    const held = async () => (await system.db.query<{ held: number }>(`SELECT held FROM "FlowLimit" WHERE name = 'pair'`))[0]!.held;
    expect(await held()).toBe(1);
    await other.done();
    expect(await held()).toBe(0);
  });

  it("a permit's done never throws: with its ledger gone, the work it guarded is not failed by giving the slot back", async () => {
    const db = await openLedger({ databaseUrl: database.url, migrate: false });
    const limits = new Limits({ ledger: new LimitLedger(db), limits: applyOverrides([], parseLimitsSetting(LIMITS)), leaseMs: 1_000, logger: system.logger });
    const permit = await limits.take('pair', { tokens: 10 });
    await db.close();
    await expect(permit.done(5)).resolves.toBeUndefined();
    limits.close();
  });

  it('a pause stops every take until it ends, and shows who waits', async () => {
    const until = await system.limits.pause('stop', 1_200, 'test: provider said 429');
    const started = Date.now();
    const taking = system.limits.take('stop');
    const during = await waitFor(() => system.limits.states(), (states) => states.find((s) => s.name === 'stop')!.waiting === 1, 1_000, 'a waiter');
    expect(during.find((s) => s.name === 'stop')).toMatchObject({ pausedUntil: until, pauseReason: 'test: provider said 429' });
    await taking;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect((await system.limits.states()).find((s) => s.name === 'stop')).toMatchObject({ pausedUntil: null, waiting: 0 });
  });

  it('runs at most a limit\'s concurrency of the jobs of a task that names it, and their history says who waited', async () => {
    const jobs = await Promise.all(Array.from({ length: 4 }, () => system.enqueue('test.limited', { holdMs: 400 })));
    const done = await Promise.all(jobs.map(({ job }) => waitForJob(system, job.id, 'COMPLETED', 20_000)));
    const spans = done.map((job) => job.result as { started: number; ended: number });
    // At the moment each one started, at most two ran.
    for (const span of spans) expect(spans.filter((other) => other.started <= span.started && span.started < other.ended).length).toBeLessThanOrEqual(2);
    const histories = await Promise.all(done.map((job) => system.ledger.queries.events(job.id)));
    expect(histories.flat().some((event) => event.message?.startsWith('waiting on limit gate: all 2 slots taken'))).toBe(true);
  });

  it('an LLM call answered 429 with Retry-After pauses the llm limit, waits it out and goes again: the job spends no attempt', async () => {
    chat.reply({ status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'slow down' } } }, completion('{"rules": []}'));
    const { job } = await system.enqueue('test.askLlm', { calls: 1 });
    const done = await waitForJob(system, job.id, 'COMPLETED', 20_000);
    expect(done.attempt).toBe(1);
    expect(chat.received).toHaveLength(2);
    const history = await system.ledger.queries.events(job.id);
    expect(history.some((e) => e.message?.startsWith('waiting on limit llm: paused until'))).toBe(true);
    expect(history.some((e) => /^waited \d+\.\d s on limit llm/.test(e.message ?? ''))).toBe(true);
  });
});
