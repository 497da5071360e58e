/**
 * The QueueAdapter contract (src/adapters/types.ts) as one suite, run by every backend's
 * `<name>-adapter.test.ts`:
 *
 *   testQueueAdapter('bullmq', (queue) => createBullmqAdapter({ …, queueName: queue }), { capabilities });
 *
 * It tests the adapter alone (no ledger, no JobSystem: that is contract.ts). What a backend cannot
 * do is skipped by the capabilities it declares, and each skipped test's name says what it needs.
 * What only one backend does (outages, crashed consumers, its own wake-ups) stays in that
 * backend's file, below its contract line.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueRefusedError } from '../../src/adapters/errors.ts';
import type { Dispatch, QueueAdapter, QueueCapabilities, QueueCounts } from '../../src/adapters/types.ts';
import { TcpProxy } from '../faults/support/proxy.ts';
import { waitUntil } from '../helpers/wait.ts';

/** An adapter made for a test, and what removes its backend state (keys, rows) once it is closed. */
export interface AdapterUnderTest {
  adapter: QueueAdapter;
  cleanup?: () => Promise<void>;
}

/**
 * Makes a fresh adapter on `queue`. The suite passes a new name for every test (`contract_<hex>`:
 * lower case, digits and `_`, so it also serves as a pg-boss schema or an AMQP queue name), and the
 * same name again when it needs a second instance on that queue (shared backends). The suite closes
 * every adapter it made after each test, then runs its cleanup.
 */
export type QueueAdapterFactory = (queue: string) => QueueAdapter | AdapterUnderTest | Promise<QueueAdapter | AdapterUnderTest>;

export interface QueueContractOptions {
  /**
   * What the backend can do. The adapter must declare exactly these (its first test checks), and
   * they decide what is skipped. Given here rather than read from an adapter because the skips are
   * decided when the tests are defined, before any adapter exists.
   */
  capabilities: QueueCapabilities;
  /**
   * Contract tests this backend is known to fail, by exact test name, with the reason (file and
   * behaviour). They run as `it.fails`, named "… — KNOWN FAILURE: <reason>": the run stays green
   * while the bug is open and turns red once it is fixed, to have the entry removed.
   */
  knownFailures?: Record<string, string>;
  /**
   * The backend's service (Redis, PostgreSQL, the broker) on 127.0.0.1:`port`, and an adapter
   * reaching it through `port` given: the suite puts a TCP proxy of its own in between to cut it.
   * Absent for a backend without a service (in-process).
   */
  service?: { port: number; through: (queue: string, port: number) => QueueAdapter | AdapterUnderTest };
}

type Define = (title: string, body: () => Promise<void>) => void;

/** Adapters get this long to close after a test; one that takes longer fails the test. */
const CLOSE_BOUND_MS = 20_000;

export function testQueueAdapter(name: string, factory: QueueAdapterFactory, options: QueueContractOptions): void {
  const caps = options.capabilities;
  const known = new Map(Object.entries(options.knownFailures ?? {}));
  const defined = new Set<string>();

  /** `base` (it, or it.skipIf(…)), or `base.fails` for a test this backend is known to fail. */
  function check(base: ReturnType<typeof it.skipIf>): Define {
    return (title, body) => {
      defined.add(title);
      const reason = known.get(title);
      if (reason === undefined) base(title, body);
      else base.fails(`${title} — KNOWN FAILURE: ${reason}`, body);
    };
  }

  // ── capability gaps: every skip is one of these, and the test's name says what it needs ──
  /** Every backend. */
  const test = check(it.skipIf(false));
  /** maxDelayMs 0: the backend holds no delayed entries (the ledger keeps a job until it is due). */
  const itDelays = check(it.skipIf(!(caps.maxDelayMs > 0)));
  /** maxDelayMs Infinity: no delay is too long, so there is nothing to refuse. */
  const itBoundsDelays = check(it.skipIf(!Number.isFinite(caps.maxDelayMs)));
  /** priorityLevels 1: first in, first out; priorities are accepted and ignored. */
  const itPrioritizes = check(it.skipIf(!(caps.priorityLevels > 1)));
  /** Fewer than 2001 levels: neighbouring priorities may share a level (only 1000 > 0 > -1000 is promised). */
  const itHasEveryPriority = check(it.skipIf(!(caps.priorityLevels >= 2001)));
  /** remove false: a cancelled job's delivery is dropped at its claim instead. */
  const itRemoves = check(it.skipIf(!caps.remove));
  const itCannotRemove = check(it.skipIf(caps.remove));
  /** deduplicates false: a re-sent key may add a second entry (its delivery is dropped at the claim). */
  const itDeduplicates = check(it.skipIf(!caps.deduplicates));
  /** shared false: the queue lives in this process's memory, so no other instance sees it. */
  const itShares = check(it.skipIf(!caps.shared));
  /** No service: the queue lives in this process, so it cannot be out of reach. */
  const itHasService = check(it.skipIf(!options.service));

  describe(`queue adapter contract: ${name}`, () => {
    const made: AdapterUnderTest[] = [];
    const gates: Gate[] = [];
    const proxies: TcpProxy[] = [];

    /** A fresh adapter on a new queue that reaches its service through a proxy the test controls. */
    async function makeBehindProxy(): Promise<{ adapter: QueueAdapter; proxy: TcpProxy }> {
      const { port, through } = options.service!;
      const proxy = await TcpProxy.start(port);
      proxies.push(proxy);
      const result = through(uniqueQueue(), proxy.port);
      const entry = 'adapter' in result ? result : { adapter: result };
      made.push(entry);
      return { adapter: entry.adapter, proxy };
    }

    /** A fresh adapter on `queue` (default: a new queue), closed and cleaned after the test. */
    async function make(queue = uniqueQueue()): Promise<QueueAdapter> {
      const result = await factory(queue);
      const entry = 'adapter' in result ? result : { adapter: result };
      made.push(entry);
      return entry.adapter;
    }

    /** A promise a handler can wait on; every gate is opened after each test, so close() never waits on one. */
    function gate(): Gate {
      const g = openable();
      gates.push(g);
      return g;
    }

    afterEach(async () => {
      for (const g of gates.splice(0)) g.open();
      for (const proxy of proxies) proxy.pass(); // adapters close (and clean up) with their service in reach
      const adapters = made.splice(0);
      const stuck: string[] = [];
      await Promise.all(
        adapters.map(async ({ adapter }) => {
          const bound = new AbortController();
          const late = sleep(CLOSE_BOUND_MS, undefined, { signal: bound.signal }).then(
            () => void stuck.push(adapter.name),
            () => {},
          );
          await Promise.race([adapter.close().finally(() => bound.abort()), late]);
        }),
      );
      for (const { cleanup } of adapters) await cleanup?.();
      await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
      if (stuck.length > 0) throw new Error(`close() did not finish within ${CLOSE_BOUND_MS} ms: ${stuck.join(', ')}`);
    });

    // ── declaration and lifecycle ──────────────────────────────────────────

    test('declares exactly the capabilities it is tested with', async () => {
      const adapter = await make();
      expect(adapter.name).toBe(name);
      expect(adapter.capabilities).toEqual(caps);
    });

    test('probes ok before and after consume', async () => {
      const adapter = await make();
      const before = await adapter.probe();
      expect(before.ok, before.detail).toBe(true);
      expect(before.latencyMs).toBeLessThan(5_000);

      await adapter.consume(async () => {}, 2);
      const after = await adapter.probe();
      expect(after.ok, after.detail).toBe(true);
      expect(after.latencyMs).toBeLessThan(5_000);
    });

    itHasService('consume while the backend cannot be reached resolves, and deliveries start once it answers (needs a service)', async () => {
      const { adapter, proxy } = await makeBehindProxy();
      proxy.drop();
      const r = recorder();
      await adapter.consume(r.handler, 2);
      const down = await adapter.probe();
      expect(down.ok).toBe(false);
      proxy.pass();
      const d = dispatch();
      await waitUntil('an enqueue to go through', () => adapter.enqueue(d).then(() => true, () => false), 30_000);
      await r.until(1, 30_000);
      expect(r.received).toEqual([d.jobId]);
      await waitUntil('the probe to see the consumer', async () => (await adapter.probe()).ok, 30_000);
    });

    test('a handler that rejects: its delivery is settled as if it had resolved, and not delivered again', async () => {
      const adapter = await make();
      const r = recorder(async () => {
        throw new Error('a handler that rejects');
      });
      await adapter.consume(r.handler, 2);
      const d = dispatch();
      await adapter.enqueue(d);
      await r.until(1);
      await waitUntil('the entry to leave the queue', idle(adapter));
      // A redelivery would come within this window on every backend (pg-boss polls every 0.5 s).
      await sleep(1_500);
      expect(r.received).toEqual([d.jobId]);
    });

    test('consume twice is an error', async () => {
      const adapter = await make();
      await adapter.consume(async () => {}, 1);
      await expect(adapter.consume(async () => {}, 1)).rejects.toThrow();
    });

    test('close twice is harmless, also after consuming', async () => {
      const adapter = await make();
      const r = recorder();
      await adapter.consume(r.handler, 1);
      const d = dispatch();
      await adapter.enqueue(d);
      await r.until(1);
      await Promise.all([adapter.close(), adapter.close()]);
      await adapter.close();
    });

    test('close of an adapter never used is fine', async () => {
      const adapter = await make();
      await adapter.close();
      await adapter.close();
    });

    // ── delivery ───────────────────────────────────────────────────────────

    test('delivers an enqueued job id once', async () => {
      const adapter = await make();
      const r = recorder();
      await adapter.consume(r.handler, 2);
      const d = dispatch();
      const ref = await adapter.enqueue(d);
      expect(typeof ref).toBe('string');
      expect(ref).not.toBe('');
      await r.until(1);
      await waitUntil('the entry to be settled', idle(adapter));
      expect(r.received).toEqual([d.jobId]);
    });

    test('delivers each key of one job: a retry is another dispatch', async () => {
      const adapter = await make();
      const r = recorder();
      await adapter.consume(r.handler, 4);
      const jobId = randomUUID();
      await adapter.enqueue({ jobId, key: `${jobId}.1`, task: 't' });
      await adapter.enqueue({ jobId, key: `${jobId}.4`, task: 't' });
      await r.until(2);
      expect(r.received).toEqual([jobId, jobId]);
    });

    itDelays('respects a delay (needs maxDelayMs > 0)', async () => {
      const adapter = await make();
      const arrivals = new Map<string, number>();
      await adapter.consume(async (jobId) => void arrivals.set(jobId, Date.now()), 2);
      const delayMs = Math.min(1_200, caps.maxDelayMs);
      const d = dispatch({ delayMs });
      const sent = Date.now();
      await adapter.enqueue(d);
      await waitUntil('the delayed delivery', () => arrivals.has(d.jobId), delayMs + 10_000);
      const waited = arrivals.get(d.jobId)! - sent;
      // 50 ms for clocks: pg-boss adds the delay to the database's clock.
      expect(waited).toBeGreaterThanOrEqual(delayMs - 50);
      expect(waited).toBeLessThan(delayMs + 5_000);
    });

    itBoundsDelays('refuses a delay above maxDelayMs with QueueRefusedError (needs a finite maxDelayMs)', async () => {
      const adapter = await make();
      await expect(adapter.enqueue(dispatch({ delayMs: caps.maxDelayMs + 1 }))).rejects.toBeInstanceOf(QueueRefusedError);
      // The refused entry was not added.
      expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 0, active: 0 });
      if (caps.maxDelayMs > 0) {
        await adapter.enqueue(dispatch({ delayMs: caps.maxDelayMs })); // the bound itself is held
        expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 1, active: 0 });
      }
    });

    itPrioritizes('runs priority 1000 before 0 before -1000 (needs priorityLevels > 1)', async () => {
      const adapter = await make();
      // Lowest first: the order of enqueue must not matter.
      for (const priority of [-1000, 0, 1000]) await adapter.enqueue({ key: randomUUID(), jobId: `p${priority}`, task: 't', priority });
      const r = recorder();
      await adapter.consume(r.handler, 1);
      await r.until(3);
      expect(r.received).toEqual(['p1000', 'p0', 'p-1000']);
    });

    itHasEveryPriority('tells every integer priority apart; absent is 0 (needs priorityLevels 2001)', async () => {
      const adapter = await make();
      const jobs: [string, number | undefined][] = [
        ['lowest', -1000],
        ['neg', -5],
        ['zero-a', 0],
        ['default', undefined],
        ['one', 1],
        ['pos', 5],
        ['zero-b', 0],
        ['highest', 1000],
      ];
      for (const [jobId, priority] of jobs) await adapter.enqueue({ key: randomUUID(), jobId, task: 't', priority });
      const r = recorder();
      await adapter.consume(r.handler, 1);
      await r.until(jobs.length);
      expect(r.received.slice(0, 3)).toEqual(['highest', 'pos', 'one']);
      // The contract does not order equal priorities.
      expect(r.received.slice(3, 6).sort()).toEqual(['default', 'zero-a', 'zero-b']);
      expect(r.received.slice(6)).toEqual(['neg', 'lowest']);
    });

    test('refuses a priority outside -1000..1000 with QueueRefusedError', async () => {
      const adapter = await make();
      for (const priority of [1001, -1001]) {
        await expect(adapter.enqueue(dispatch({ priority })), `priority ${priority}`).rejects.toBeInstanceOf(QueueRefusedError);
      }
      expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 0, active: 0 });
    });

    test('runs at most `concurrency` handlers at once', async () => {
      const adapter = await make();
      let running = 0;
      let max = 0;
      const done: string[] = [];
      await adapter.consume(async (jobId) => {
        running++;
        max = Math.max(max, running);
        await sleep(150); // the job's work: long enough for a backend that over-delivers to show it
        running--;
        done.push(jobId);
      }, 3);
      const sent = Array.from({ length: 10 }, () => dispatch());
      await Promise.all(sent.map((d) => adapter.enqueue(d)));
      await waitUntil('10 jobs done', () => done.length === 10, 20_000);
      expect(max).toBe(3);
      expect(new Set(done)).toEqual(new Set(sent.map((d) => d.jobId)));
    });

    test('delivers a burst of 500 jobs promptly', async () => {
      const adapter = await make();
      const r = recorder();
      await adapter.consume(r.handler, 20);
      const sent = Array.from({ length: 500 }, () => dispatch());
      const started = Date.now();
      await enqueueAll(adapter, sent); // in parallel streams, as a busy API would
      const enqueuedMs = Date.now() - started;
      await r.until(500, 30_000);
      const totalMs = Date.now() - started;
      console.info(`${name} burst: 500 jobs enqueued in ${enqueuedMs} ms, all delivered in ${totalMs} ms`);
      expect(new Set(r.received)).toEqual(new Set(sent.map((d) => d.jobId)));
      expect(totalMs).toBeLessThan(20_000);
    });

    test('drains a backlog of 500 jobs queued before consume promptly', async () => {
      const adapter = await make();
      const sent = Array.from({ length: 500 }, () => dispatch());
      await enqueueAll(adapter, sent);
      // Nothing is sent after this: whatever wakes consumers on a send does not help here.
      const r = recorder();
      const started = Date.now();
      await adapter.consume(r.handler, 20);
      await r.until(500, 30_000);
      const totalMs = Date.now() - started;
      console.info(`${name} backlog: 500 queued jobs delivered in ${totalMs} ms`);
      expect(new Set(r.received)).toEqual(new Set(sent.map((d) => d.jobId)));
      expect(totalMs).toBeLessThan(20_000);
    });

    test('stopConsuming waits for the handlers in flight and takes no new deliveries; producing keeps working', async () => {
      const queue = uniqueQueue();
      const adapter = await make(queue);
      const release = gate();
      const started: string[] = [];
      const finished: string[] = [];
      await adapter.consume(async (jobId) => {
        started.push(jobId);
        await release.promise;
        finished.push(jobId);
      }, 2);
      // Three jobs for two slots: the third waits while the first two run.
      const sent = [dispatch(), dispatch(), dispatch()];
      for (const d of sent) await adapter.enqueue(d);
      await waitUntil('two handlers to start', () => started.length === 2);

      let finishedAtStop: string[] | undefined;
      const stopping = adapter.stopConsuming().then(() => void (finishedAtStop = [...finished]));
      await sleep(300); // a stopConsuming that does not wait would have resolved by now
      expect(finishedAtStop).toBeUndefined();
      release.open();
      await stopping;
      expect(new Set(finishedAtStop)).toEqual(new Set(started));

      const late = dispatch();
      await adapter.enqueue(late); // producing still works
      await sleep(1_500); // a consumer still fetching (pg-boss polls every 0.5 s) would take one by now
      expect(started).toHaveLength(2);
      expect(await adapter.counts()).toEqual({ waiting: 2, delayed: 0, active: 0 });
      const probe = await adapter.probe();
      expect(probe.ok, probe.detail).toBe(true);

      if (caps.shared) {
        // The two left were deliverable all along: another consumer takes them.
        const other = await make(queue);
        const r = recorder();
        await other.consume(r.handler, 2);
        await r.until(2);
        const left = sent.map((d) => d.jobId).filter((id) => !started.includes(id));
        expect(new Set(r.received)).toEqual(new Set([...left, late.jobId]));
      }
    });

    // ── remove ─────────────────────────────────────────────────────────────

    itRemoves('removes a waiting and a delayed entry before delivery (needs remove)', async () => {
      const adapter = await make();
      const delays = caps.maxDelayMs >= 1_000;
      const waiting = await adapter.enqueue(dispatch({ priority: 3 }));
      const delayed = delays ? await adapter.enqueue(dispatch({ delayMs: 800 })) : undefined;
      expect(await adapter.remove(waiting)).toBe(true);
      expect(await adapter.remove(waiting)).toBe(false); // already gone
      if (delayed) {
        expect(await adapter.remove(delayed)).toBe(true);
        expect(await adapter.remove(delayed)).toBe(false);
      }
      expect(await adapter.remove(randomUUID())).toBe(false); // never there
      expect(await adapter.remove('not-a-ref')).toBe(false);
      expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 0, active: 0 });

      const r = recorder();
      await adapter.consume(r.handler, 1);
      // Due after the removed one would have been: had it stayed, it would be delivered first.
      const kept = dispatch(delays ? { delayMs: 900 } : {});
      await adapter.enqueue(kept);
      await r.until(1);
      await waitUntil('the queue to be empty', idle(adapter));
      expect(r.received).toEqual([kept.jobId]);
    });

    itCannotRemove('remove answers false for a waiting entry (backends without remove)', async () => {
      const adapter = await make();
      const ref = await adapter.enqueue(dispatch());
      expect(await adapter.remove(ref)).toBe(false);
      expect((await adapter.counts()).waiting).toBe(1);
    });

    test('remove answers false for an entry being handled', async () => {
      const adapter = await make();
      const release = gate();
      const started = openable();
      await adapter.consume(async () => {
        started.open();
        await release.promise;
      }, 1);
      const ref = await adapter.enqueue(dispatch());
      await started.promise;
      expect(await adapter.remove(ref)).toBe(false);
      expect((await adapter.counts()).active).toBe(1);
      release.open();
      await waitUntil('the entry to be settled', idle(adapter));
    });

    // ── inspection ─────────────────────────────────────────────────────────

    test('counts waiting, delayed and active entries', async () => {
      const adapter = await make();
      expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 0, active: 0 });
      const delayed = caps.maxDelayMs >= 60_000 ? 1 : 0;
      await adapter.enqueue(dispatch());
      await adapter.enqueue(dispatch({ priority: 7 }));
      if (delayed) await adapter.enqueue(dispatch({ delayMs: 60_000 }));
      expect(await adapter.counts()).toEqual({ waiting: 2, delayed, active: 0 });

      const release = gate();
      await adapter.consume(() => release.promise, 1);
      // Polled as a whole: a backend may take more than it runs for a moment (pg-boss fetches in
      // batches and hands back what it has no slot for).
      await waitUntil('one active, one waiting', async () => same(await adapter.counts(), { waiting: 1, delayed, active: 1 }));
      release.open();
      await waitUntil('the ready ones to drain', async () => {
        const c = await adapter.counts();
        return c.waiting === 0 && c.active === 0;
      });
      expect(await adapter.counts()).toEqual({ waiting: 0, delayed, active: 0 });
    });

    // ── idempotent enqueue by key ──────────────────────────────────────────

    itDeduplicates('adds nothing for a key it holds waiting or delayed; the key is new again once its entry was delivered and settled (needs deduplicates)', async () => {
      const adapter = await make();
      const now = dispatch();
      const nowRef = await adapter.enqueue(now);
      expect(await adapter.enqueue({ ...now, jobId: 'second-of-the-key' })).toBe(nowRef);
      const delays = caps.maxDelayMs >= 300;
      const later = dispatch(delays ? { delayMs: 300 } : {});
      const laterRef = await adapter.enqueue(later);
      expect(await adapter.enqueue(later)).toBe(laterRef);
      expect(await adapter.counts()).toEqual({ waiting: delays ? 1 : 2, delayed: delays ? 1 : 0, active: 0 });

      const r = recorder();
      await adapter.consume(r.handler, 4);
      await r.until(2);
      await waitUntil('both entries to be settled', idle(adapter));
      // The first enqueue of a key wins: the second added nothing, not even its job id.
      expect(r.received.sort()).toEqual([now.jobId, later.jobId].sort());

      // Delivered and settled: the same key is a new entry (a job whose claim was lost comes back).
      await adapter.enqueue(now);
      await r.until(3);
      await waitUntil('the new entry to be settled', idle(adapter));
      expect(r.received.filter((id) => id === now.jobId)).toHaveLength(2);
      expect(r.received).toHaveLength(3);
    });

    itDeduplicates('adds nothing for a key whose entry is being handled (needs deduplicates)', async () => {
      const adapter = await make();
      const release = gate();
      const r = recorder(() => release.promise);
      await adapter.consume(r.handler, 2);
      const d = dispatch();
      const ref = await adapter.enqueue(d);
      await r.until(1);
      expect(await adapter.enqueue(d)).toBe(ref);
      expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 0, active: 1 });
      release.open();
      await waitUntil('the entry to be settled', idle(adapter));
      expect(r.received).toEqual([d.jobId]);
    });

    // ── sharing ────────────────────────────────────────────────────────────

    itShares('delivers to a consumer in another adapter instance on the same queue (needs shared)', async () => {
      const queue = uniqueQueue();
      const producer = await make(queue);
      const consumer = await make(queue);
      const r = recorder();
      await consumer.consume(r.handler, 1);
      const d = dispatch();
      await producer.enqueue(d);
      await r.until(1);
      expect(r.received).toEqual([d.jobId]);
      await waitUntil('the producer to see the entry settled', idle(producer));
    });

    // A known failure must name a test of this suite: one naming a renamed test would do nothing.
    const unknown = [...known.keys()].filter((title) => !defined.has(title));
    if (unknown.length > 0) throw new Error(`knownFailures names no contract test: ${unknown.join('; ')}`);
  });
}

// ── helpers ──────────────────────────────────────────────────────────────────

export function uniqueQueue(): string {
  return `contract_${randomBytes(4).toString('hex')}`;
}

function dispatch(extra: Partial<Dispatch> = {}): Dispatch {
  return { key: randomUUID(), jobId: randomUUID(), task: 'test', ...extra };
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function openable(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}


function same(counts: QueueCounts, expected: QueueCounts): boolean {
  return counts.waiting === expected.waiting && counts.delayed === expected.delayed && counts.active === expected.active;
}

/** True once the queue holds nothing: every entry delivered and settled. */
function idle(adapter: QueueAdapter): () => Promise<boolean> {
  return async () => {
    const c = await adapter.counts();
    return c.waiting + c.delayed + c.active === 0;
  };
}

/** Collects deliveries in order; `until(n)` resolves once n have arrived. `work` runs after recording. */
function recorder(work: () => Promise<void> = async () => {}) {
  const received: string[] = [];
  const handler = async (jobId: string) => {
    received.push(jobId);
    await work();
  };
  const until = (n: number, timeoutMs = 15_000) =>
    waitUntil(() => `${n} deliveries (got ${received.length})`, () => received.length >= n, timeoutMs);
  return { received, handler, until };
}

/** Enqueues in 10 parallel streams, as a busy API would. */
async function enqueueAll(adapter: QueueAdapter, dispatches: Dispatch[]): Promise<void> {
  const pending = [...dispatches];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      for (let d = pending.shift(); d; d = pending.shift()) await adapter.enqueue(d);
    }),
  );
}
