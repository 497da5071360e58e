import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';
import { FakeProvider, FlowProbe, overlaps, Sampler, type Arrival, type LeaseRow } from './support/flow.ts';
import { pidOf, RunClient } from './support/runs.ts';
import { FAULT_ENV, scenarioPerTest, type Backend, type Scenario } from './support/scenario.ts';

/**
 * Flow control meeting the suite's faults, in the layout users run (an API process without a
 * worker, two worker processes, clients over HTTP): a concurrency key's slot and a shared limit's
 * slot held by a worker that is SIGKILLed, and a limit paused by a provider's Retry-After while
 * Redis forgets everything. Both kinds of flow state live in the ledger, so a killed holder's turn
 * comes back within the stale bound and a flush loses no pause.
 */
const STALE_AFTER_MS = Number(FAULT_ENV.STALE_AFTER_MS);
const COUNT_WORDS = 'demo.countWords';
const SERIAL = 'fault-serial';
const LLM_ENV = { LLM_MODEL: 'test-model' };
/** Demo records seeded for the LLM scenarios: the tasks read the report and catalog, not the records. */
const RECORDS = 500;

/**
 * Event times are each statement's start (now()): a claim that began a moment before the end of
 * the job it waited for, and was admitted once that end committed, is stamped a moment earlier.
 * Overlaps this short are that, not two jobs at once; the sampler below judges strictly.
 */
const STAMP_TOLERANCE_MS = 250;
/**
 * A killed holder's job is found lost once its heartbeat is STALE_AFTER_MS old (it beat up to
 * HEARTBEAT_MS before the kill), by a reaper round (every HEARTBEAT_MS), then sent and claimed:
 * the key is free again within STALE_AFTER_MS + this.
 */
const KEY_FREE_MARGIN_MS = 3_000;
/**
 * A killed holder's lease runs out at most STALE_AFTER_MS after its last renewal; a waiter asks
 * again every 250 ms at most, then sends: the next request arrives within STALE_AFTER_MS + this.
 */
const SLOT_BACK_MARGIN_MS = 2_000;
/** Requests granted before a 429 arrived may still be on their way (as in test/process/limits.test.ts). */
const IN_FLIGHT_GRACE_MS = 1_000;
const RETRY_AFTER_S = 6;

const s = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;

async function enqueue(client: RunClient, mutation: string, inputType: string, input: Record<string, unknown>): Promise<string> {
  const data = await client.gql<Record<string, { job: { id: string } }>>(`mutation($input: ${inputType}!) { ${mutation}(input: $input) { job { id } } }`, { input });
  return data[mutation]!.job.id;
}

/** Waits until every job ended (or the bound passed: scenario.finish then says what is missing). */
async function untilEnded(probe: FlowProbe, ids: string[], timeoutMs = 90_000): Promise<void> {
  await waitFor(
    () => probe.jobs(ids).catch(() => []),
    (rows) => rows.length === ids.length && rows.every((row) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(row.status)),
    timeoutMs,
    'every job ended',
  ).catch(() => undefined);
}

async function flushRedis(url: string): Promise<void> {
  const redis = new Redis(url);
  try {
    await redis.flushall();
  } finally {
    redis.disconnect();
  }
}

/** The scenario's worker running `lockedBy` (`host:pid:…`). */
function workerOf(scenario: Scenario, lockedBy: string) {
  const worker = scenario.workers.find((candidate) => candidate.pid === pidOf(lockedBy));
  expect(worker, `the worker ${lockedBy} is one of the scenario's`).toBeDefined();
  return worker!;
}

describe.each<Backend>(['bullmq', 'pgboss'])('flow control under faults on %s', (backend) => {
  const startScenario = scenarioPerTest();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  const probeOf = (scenario: Scenario) => {
    const probe = new FlowProbe(scenario.pg.url);
    cleanups.push(() => probe.close());
    return probe;
  };
  const provider = async (opts: Parameters<typeof FakeProvider.start>[0]) => {
    const started = await FakeProvider.start(opts);
    cleanups.push(() => started.close());
    return started;
  };

  it('a worker SIGKILLed while its job holds a concurrency key: never two of the key at once, the key free again within the stale bound', async () => {
    const scenario = await startScenario('flow: worker SIGKILLed holding a concurrency-key slot', { backend });
    const client = new RunClient(() => scenario.api.url);
    const probe = probeOf(scenario);
    // Strict: no snapshot of the ledger may show two jobs of the key held.
    const sampler = new Sampler(() => probe.keyHeld(COUNT_WORDS, SERIAL));
    cleanups.push(() => sampler.stop());

    // Eight jobs of one key, ~1.4 s each (three chunks, 700 ms apart), and four of no key beside them.
    const serial: string[] = [];
    for (let i = 0; i < 8; i++) serial.push(await enqueue(client, 'countWords', 'CountWordsInput', { text: 'a b c', chunkSize: 1, pauseMs: 700, serial: SERIAL }));
    const plain: string[] = [];
    for (let i = 0; i < 4; i++) plain.push(await enqueue(client, 'countWords', 'CountWordsInput', { text: 'a b c', chunkSize: 1, pauseMs: 500 }));

    // Once the key has handed over a turn, the kill meets the next holder mid-task.
    const atKill = await waitFor(
      () => probe.jobs(serial),
      (rows) => rows.some((row) => row.status === 'COMPLETED') && rows.some((row) => row.status === 'RUNNING' && !!row.lockedBy && row.progress > 0 && row.progress < 100),
      60_000,
      'a serial job running after one completed',
    );
    const holder = atKill.find((row) => row.status === 'RUNNING')!;
    const parked = atKill.filter((row) => row.waitingOn !== null).length;
    const victim = workerOf(scenario, holder.lockedBy!);
    const killedAt = Date.now();
    const exit = await victim.kill('SIGKILL');
    await scenario.startWorker();

    const all = [...serial, ...plain];
    await untilEnded(probe, all);
    const { most, samples } = await sampler.stop();
    const spans = await probe.spans(serial);
    const { most: stampOverlap, beyond } = overlaps(spans, STAMP_TOLERANCE_MS);
    const killed = spans.find((span) => span.jobId === holder.id && span.start < killedAt && span.end > killedAt);
    const next = spans.find((span) => span.start > killedAt);
    const keyFreeMs = next ? next.start - killedAt : null;
    const reapedMs = killed ? killed.end - killedAt : null;

    const verdict = await scenario.finish(all, {
      faultEndedAt: killedAt,
      notes: [
        `killed (${exit.signal}) the worker running a job of key ${SERIAL} (${parked} of its 8 jobs parked then)`,
        `its attempt ended by the reaper ${reapedMs === null ? '?' : s(reapedMs)} after the kill`,
        `key free again (next job of the key started) ${keyFreeMs === null ? 'never' : s(keyFreeMs)} after the kill (bound ${s(STALE_AFTER_MS + KEY_FREE_MARGIN_MS)})`,
        `most of the key held at once: ${most} in ${samples} ledger samples; ${spans.length} attempts, longest stamp overlap ${stampOverlap} ms`,
      ],
    });
    expect(most, 'jobs of the key RUNNING at once in one ledger snapshot').toBe(1);
    expect(beyond.map(({ a, b, ms }) => `${a.jobId}#${a.attempt} and ${b.jobId}#${b.attempt} overlap ${ms} ms`)).toEqual([]);
    // The kill met the holder running: its attempt was ended by the reaper and it ran again.
    expect(killed, `the killed attempt of ${holder.id} in ${JSON.stringify(spans)}`).toBeDefined();
    expect(killed!.endedBy).toMatch(/^ATTEMPT RETRYING WORKER_LOST/);
    expect(verdict.reasons.WORKER_LOST ?? 0).toBeGreaterThan(0);
    expect(keyFreeMs, 'a job of the key started after the kill').not.toBeNull();
    expect(keyFreeMs!).toBeLessThan(STALE_AFTER_MS + KEY_FREE_MARGIN_MS);
  });

  it('a worker SIGKILLed while its LLM call holds the llm slot (concurrency 1): the slot comes back within the lease, never two calls in flight', async () => {
    const llm = await provider({ answerMs: 3_000 });
    // One job per worker at a time: the job waiting for the slot is in the other worker, alive.
    const scenario = await startScenario('flow: worker SIGKILLed holding the llm slot', {
      backend,
      env: { ...LLM_ENV, LLM_BASE_URL: llm.baseUrl, LIMITS: 'llm:concurrency=1', WORKER_CONCURRENCY: '1' },
    });
    const client = new RunClient(() => scenario.api.url);
    const probe = probeOf(scenario);
    const { reportId } = await client.seedDemo(RECORDS);
    const reports = [reportId, ...(await probe.addReports(2))];
    const names = await probe.reportNames();
    const jobs = new Map<string, string>();
    for (const report of reports) jobs.set(names.get(report)!, await enqueue(client, 'generateLlmAttributes', 'GenerateLlmAttributesInput', { reportId: report }));

    // A call just arrived at the provider (well before its answer), its job holding the slot, and
    // another job waiting for the slot in the other worker.
    type Moment = { inFlight: Arrival[]; leases: LeaseRow[] };
    const { inFlight, leases } = await waitFor<Moment>(
      async () => ({ inFlight: llm.arrivals.filter((a) => a.endedAt === undefined), leases: await probe.leases('llm') }),
      ({ inFlight, leases }) => {
        const holding = leases.find((lease) => lease.holding);
        return (
          inFlight.length === 1 &&
          Date.now() - inFlight[0]!.at < 1_500 &&
          !!holding?.lockedBy &&
          holding.jobId === jobs.get(inFlight[0]!.report ?? '') &&
          leases.some((lease) => !lease.holding && !!lease.lockedBy && pidOf(lease.lockedBy) !== pidOf(holding.lockedBy!))
        );
      },
      40_000,
      () => `a call in flight, its job holding the slot, another waiting elsewhere (arrivals ${JSON.stringify(llm.arrivals)})`,
    );
    const holding = leases.find((lease) => lease.holding)!;
    const waiter = leases.find((lease) => !lease.holding && pidOf(lease.lockedBy!) !== pidOf(holding.lockedBy!))!;
    const { limits } = await client.gql<{ limits: { name: string; concurrency: number | null; held: number; waiting: number }[] }>(
      '{ limits { name concurrency held waiting pausedUntil requestsUsed } }',
    );
    const atKill = limits.find((limit) => limit.name === 'llm');
    const victim = workerOf(scenario, holding.lockedBy!);
    const killedAt = Date.now();
    const exit = await victim.kill('SIGKILL');
    const killedCall = inFlight[0]!;
    await scenario.startWorker();

    const next = await waitFor(
      () => llm.arrivals.find((arrival) => arrival.at > killedAt),
      (arrival) => arrival !== undefined,
      STALE_AFTER_MS + 20_000,
      'the next call at the provider after the kill',
    );
    const slotBackMs = next!.at - killedAt;
    const ids = [...jobs.values()];
    await untilEnded(probe, ids);
    const rows = await probe.jobs(ids);
    const nextJob = jobs.get(next!.report ?? '');

    const verdict = await scenario.finish(ids, {
      faultEndedAt: killedAt,
      notes: [
        `killed (${exit.signal}) the worker whose call had been in flight ${s(killedAt - killedCall.at)} (provider answers in 3 s); limit then: ${JSON.stringify(atKill)}`,
        `the provider saw that call end ${s(killedCall.endedAt! - killedAt)} after the kill`,
        `next call arrived ${s(slotBackMs)} after the kill (bound ${s(STALE_AFTER_MS + SLOT_BACK_MARGIN_MS)}), from ${nextJob === waiter.jobId ? 'the job waiting at the kill' : nextJob === holding.jobId ? 'the killed job' : 'the third job'}`,
        `${llm.arrivals.length} calls, at most ${llm.mostInFlight} in flight at once`,
      ],
    });
    expect(llm.mostInFlight, `calls in flight at once: ${JSON.stringify(llm.arrivals)}`).toBe(1);
    expect(slotBackMs).toBeLessThan(STALE_AFTER_MS + SLOT_BACK_MARGIN_MS);
    // From a job that waited for the slot (the waiter seen at the kill, or the third job, which the
    // replacement worker may have started meanwhile: waiters are not served in order), not from the
    // killed job run again, which would time the reaper instead of the lease.
    expect(nextJob, 'the first call after the kill').not.toBe(holding.jobId);
    expect(verdict.reasons.WORKER_LOST ?? 0).toBeGreaterThan(0);
    // The killed job's attempt went to the lost worker; the others spent none.
    expect(rows.filter((row) => row.id !== holding.jobId).map((row) => row.attempt)).toEqual(rows.filter((row) => row.id !== holding.jobId).map(() => 1));
  });

  it('Redis flushed while the llm limit is paused by a 429: nobody calls before Retry-After, no job spends an attempt', async () => {
    let redisUrl = '';
    let flushing: Promise<number> | undefined;
    // Four attributes jobs (one call each), then four scoping jobs of four calls each: the 429
    // meets the third scoping call, while every scoping job has calls left to make.
    const llm = await provider({
      answerMs: 150,
      rateLimit: { request: 4 + 3, retryAfterSeconds: RETRY_AFTER_S },
      onRateLimited: () => {
        flushing = flushRedis(redisUrl).then(() => Date.now(), () => Number.NaN);
      },
    });
    const scenario = await startScenario('flow: Redis flushed while the llm limit is paused', {
      backend,
      env: { ...LLM_ENV, LLM_BASE_URL: llm.baseUrl, LIMITS: 'llm:requests=1000/1m' },
    });
    redisUrl = scenario.redis.url;
    const client = new RunClient(() => scenario.api.url);
    const probe = probeOf(scenario);
    const { reportId } = await client.seedDemo(RECORDS);
    const reports = [reportId, ...(await probe.addReports(3))];

    const attributes: string[] = [];
    for (const report of reports) attributes.push(await enqueue(client, 'generateLlmAttributes', 'GenerateLlmAttributesInput', { reportId: report }));
    await untilEnded(probe, attributes, 60_000);
    expect(llm.arrivals.map((a) => a.status)).toEqual([200, 200, 200, 200]);

    const scoping: string[] = [];
    for (const report of reports) scoping.push(await enqueue(client, 'generateScopingRecommendations', 'GenerateScopingRecommendationsInput', { reportId: report }));
    await waitFor(() => flushing, (p) => p !== undefined, 60_000, 'the 429');
    const flushedAt = await flushing!;
    const limitedAt = llm.rateLimitedAt!;
    // What every process reads of the limit now, Redis empty: still paused.
    const { limits } = await client.gql<{ limits: { name: string; pausedUntil: string | null }[] }>('{ limits { name concurrency held waiting pausedUntil requestsUsed } }');
    const pausedUntil = limits.find((limit) => limit.name === 'llm')?.pausedUntil;

    const all = [...attributes, ...scoping];
    await untilEnded(probe, all);
    const rows = await probe.jobs(all);
    const histories = await probe.messages(scoping);
    const waitedOnPause = scoping.filter((id) => histories.get(id)!.some((line) => line.startsWith('waiting on limit llm: paused until')));
    const during = llm.arrivals.filter((a) => a.at > limitedAt + IN_FLIGHT_GRACE_MS && a.at < limitedAt + RETRY_AFTER_S * 1_000);
    const stragglers = llm.arrivals.filter((a) => a.at > limitedAt && a.at <= limitedAt + IN_FLIGHT_GRACE_MS);
    const after = llm.arrivals.filter((a) => a.at >= limitedAt + RETRY_AFTER_S * 1_000);
    const resumedMs = after.length ? after[0]!.at - limitedAt : null;

    await scenario.finish(all, {
      faultEndedAt: flushedAt,
      notes: [
        `FLUSHALL done ${s(flushedAt - limitedAt)} after the 429 (Retry-After ${RETRY_AFTER_S})`,
        `limits query after the flush: llm paused until ${pausedUntil ? `${s(Date.parse(pausedUntil) - limitedAt)} after the 429` : 'not paused'}`,
        `calls ${stragglers.length} within ${s(IN_FLIGHT_GRACE_MS)} after the 429 (in flight), ${during.length} before Retry-After, first after it ${resumedMs === null ? 'none' : `${s(resumedMs)} after the 429`}`,
        `${waitedOnPause.length} of ${scoping.length} scoping jobs waited on the pause; max attempt ${Math.max(...rows.map((row) => row.attempt))}`,
      ],
    });
    expect(flushedAt - limitedAt).toBeLessThan(IN_FLIGHT_GRACE_MS);
    expect(pausedUntil, 'the llm limit still paused after the flush').toBeTruthy();
    expect(Date.parse(pausedUntil!)).toBeGreaterThan(limitedAt + (RETRY_AFTER_S - 1) * 1_000);
    expect(during.map((a) => `call ${a.n} ${a.at - limitedAt} ms after the 429`)).toEqual([]);
    expect(after.length, 'calls after Retry-After').toBeGreaterThan(0);
    // Every scoping job had calls left when the 429 came: each waited for the pause, in its attempt.
    expect(waitedOnPause).toEqual(scoping);
    expect(rows.map((row) => `${row.status}#${row.attempt}`)).toEqual(rows.map(() => 'COMPLETED#1'));
  });
});
