import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type Job, type JobsOptions, type JobType } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { Batcher } from '../lib/batcher.ts';
import { errorText } from '../lib/errors.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { QueueUnavailableError, refuseUnfit } from './errors.ts';
import { Semaphore } from '../lib/semaphore.ts';
import type { Logger } from '../lib/logger.ts';
import { CONSUME_WAIT_MS, ConsumeOnce, deliver, InFlight, OPERATION_TIMEOUT_MS, timedProbe, type EntryData } from './shared.ts';
import type { DeliveryHandler, Dispatch, ProbeResult, QueueAdapter, QueueCapabilities, QueueCounts } from './types.ts';

export interface BullmqAdapterOptions {
  redisUrl: string;
  queueName: string;
  logger: Logger;
  /** Prefix of every BullMQ key, so jobgraph's keys are grouped: `<prefix>:<queueName>:…`. */
  prefix?: string;
  // Optional tuning, for tests: production uses the defaults below.
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** A worker that takes no job for this long while jobs wait and it has free slots is restarted. */
  stuckAfterMs?: number;
}

/*
 * Crash redelivery: a worker renews its job locks every lockDuration/2. When its process dies the
 * lock expires at most LOCK_DURATION_MS later, and the next stalled check (every
 * STALLED_INTERVAL_MS, run by any live worker) moves the job back to wait: redelivered within
 * about 30 + 15 = 45 s, under the 60 s budget.
 */
const LOCK_DURATION_MS = 30_000;
const STALLED_INTERVAL_MS = 15_000;
/**
 * BullMQ fails a job once it has stalled more than this many times. Its default (1) would turn a
 * second crash into a silent failure; the ledger already counts attempts and drops duplicates, so
 * BullMQ must always redeliver.
 */
const MAX_STALLED_COUNT = 1_000;
/**
 * How long a worker waits before retrying after a Redis connection error (BullMQ's default is 15 s):
 * bounds how long consumption stays stopped after Redis comes back.
 */
const RUN_RETRY_DELAY_MS = 2_000;
/** probe() answers within this, whatever happens. */
const PROBE_BUDGET_MS = 4_500;
/** How long probe() waits for this process's probe worker to take the probe job. */
const PROBE_CONSUME_WAIT_MS = 3_000;
/**
 * Jobs ready this long while the main worker has free slots and takes none mean it is stuck. Well
 * above a healthy worker's longest pause: its 5 s blocking wait (+1 s watchdog) or a retry delay.
 */
const STUCK_AFTER_MS = 20_000;
/** At most one worker restart per this period, so a flapping Redis does not churn workers. */
const REVIVE_COOLDOWN_MS = 30_000;
/** How long a retiring worker waits for BullMQ to record the outcome of its last jobs. */
const SETTLE_MS = 2_000;
/** close() waits this long for in-flight handlers before cutting the connections. */
const CLOSE_GRACE_MS = 2_000;
/** Leftover keys of a crashed process's probe queue expire after this. */
const PROBE_KEYS_TTL_MS = 24 * 60 * 60 * 1_000;
/** BullMQ's types omit 'paused', which its getCounts script does support. */
const COUNT_TYPES = ['wait', 'prioritized', 'delayed', 'active', 'paused', 'waiting-children'] as JobType[];

/** One set of workers and their connection; replaced as a whole when the workers stop consuming. */
interface Generation {
  conn: Redis;
  main: Worker<EntryData, void>;
  probe: Worker;
  /** Handlers running for jobs this generation's main worker took. */
  inFlight: InFlight;
  /** Ids of jobs handed to our processor whose outcome BullMQ has not yet written to Redis. */
  unsettled: Set<string>;
  /** Set once the workers are closed: a job still handed to the processor then is not delivered. */
  stopped: boolean;
  retiring?: Promise<void>;
}

interface ConsumerState {
  handler: DeliveryHandler;
  concurrency: number;
  /** Holds the process-wide limit even while an old generation finishes its jobs next to a new one. */
  slots: Semaphore;
  probeQueue: Queue;
  lastDeliveryAt: number;
  /** Since when jobs have been waiting while this process had free slots and took none. */
  backlogSince?: number;
  lastReviveAt: number;
}

interface Consumer extends ConsumerState {
  current: Generation;
  /** Replaced generations still finishing their jobs. */
  retired: Set<Generation>;
}

export function createBullmqAdapter(opts: BullmqAdapterOptions): QueueAdapter {
  return new BullmqAdapter(opts);
}

/**
 * QueueAdapter on BullMQ: one queue for every task type (one worker and one concurrency limit per
 * process, priorities comparable across tasks), no BullMQ retries (the core retries), finished
 * jobs removed at once (the ledger keeps history).
 */
class BullmqAdapter implements QueueAdapter {
  readonly name = 'bullmq' as const;
  readonly capabilities: QueueCapabilities = {
    // Redis may keep nothing on disk (this project's default service does not): the ledger re-sends.
    durable: false,
    deduplicates: true,
    remove: true,
    maxDelayMs: Infinity,
    priorityLevels: 2001,
    shared: true,
  };

  readonly #opts: BullmqAdapterOptions;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #where: string;
  readonly #producer: Redis;
  readonly #queue: Queue<EntryData, void>;
  /** This process's own probe queue: a shared one could be drained by another process's probe worker. */
  readonly #probeQueueName: string;
  readonly #probeWaiters = new Map<string, () => void>();
  readonly #lastErrorLog = new Map<string, number>();
  #lastProducerError = '';
  #consumer?: Consumer;
  readonly #consumeOnce = new ConsumeOnce();
  #stopping?: Promise<void>;
  #closing?: Promise<void>;

  constructor(opts: BullmqAdapterOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'bullmq', queue: opts.queueName });
    this.#prefix = opts.prefix ?? 'jobgraph';
    this.#probeQueueName = `${opts.queueName}__probe_${randomUUID().slice(0, 8)}`;

    // Producer: fails fast instead of queueing commands while Redis is away, so enqueue rejects.
    this.#producer = this.#connect('producer', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.#producer.on('error', (err) => (this.#lastProducerError = err.message));
    this.#producer.on('ready', () => (this.#lastProducerError = ''));
    const { host, port } = this.#producer.options;
    this.#where = `${host}:${port}`; // never the URL: it may hold a password

    this.#queue = new Queue<EntryData, void>(opts.queueName, {
      connection: this.#producer,
      prefix: this.#prefix,
    });
    this.#queue.on('error', (err) => this.#logError('queue', err));
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  probe(): Promise<ProbeResult> {
    const deadline = performance.now() + PROBE_BUDGET_MS;
    return timedProbe(PROBE_BUDGET_MS, () => this.#probe(deadline), (error) =>
      error instanceof QueueUnavailableError ? errorText(error) : `Redis at ${this.#where}: ${errorText(error)}`,
    );
  }

  async #probe(deadline: number): Promise<{ ok: boolean; detail: string }> {
    if (this.#closing) return { ok: false, detail: 'adapter closed' };
    const left = () => Math.max(1, deadline - performance.now());
    await this.#connected(undefined, left());
    const redis = this.#producer;
    const pong = await withTimeout(redis.ping(), left(), () => new Error('PING timed out'));
    if (pong !== 'PONG') return { ok: false, detail: `PING answered ${pong}` };
    // A replica or a full Redis answers PING but refuses writes.
    const written = await withTimeout(
      redis.set(`${this.#prefix}:${this.#opts.queueName}__probe:write`, Date.now(), 'PX', 60_000),
      left(),
      () => new Error('write timed out'),
    );
    if (written !== 'OK') return { ok: false, detail: `write answered ${written}` };

    const consumer = this.#consumer;
    if (!consumer || this.#stopping) return { ok: true, detail: `Redis at ${this.#where} answers and accepts writes` };

    const stuck = (await this.#mainWorkerStuck(consumer, left())) ?? (await this.#probeJob(consumer, left()));
    if (stuck) {
      const action = this.#revive(consumer, stuck) ? 'restarting it' : 'it was restarted less than 30 s ago';
      return { ok: false, detail: `worker not consuming: ${stuck}; ${action}` };
    }
    return { ok: true, detail: `Redis at ${this.#where} answers, accepts writes, and this process's worker consumes` };
  }

  /**
   * The main worker can stop taking jobs while Redis answers (a known BullMQ failure after a
   * reconnect). Signs: its loop ended, or jobs have been waiting a while although it has free slots.
   */
  async #mainWorkerStuck(consumer: Consumer, timeoutMs: number): Promise<string | undefined> {
    const { main } = consumer.current;
    if (!main.isRunning() && !main.closing) return 'its fetch loop has ended';

    const counts = await withTimeout(this.#queue.getJobCounts('wait', 'prioritized'), timeoutMs, () =>
      new Error('counts timed out'),
    );
    const ready = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    const now = Date.now();
    if (ready === 0 || consumer.slots.inUse >= consumer.concurrency) {
      consumer.backlogSince = undefined;
      return undefined;
    }
    consumer.backlogSince ??= now;
    const idleFor = now - Math.max(consumer.backlogSince, consumer.lastDeliveryAt);
    const stuckAfter = this.#opts.stuckAfterMs ?? STUCK_AFTER_MS;
    if (idleFor < stuckAfter) return undefined;
    return `${ready} job(s) ready for ${idleFor} ms while it had free slots and took none`;
  }

  /** End to end: a job through Redis to this process's probe worker, which runs on the same code path. */
  async #probeJob(consumer: Consumer, timeoutMs: number): Promise<string | undefined> {
    const id = randomUUID();
    const taken = new Promise<void>((resolve) => this.#probeWaiters.set(id, resolve));
    try {
      await withTimeout(
        consumer.probeQueue.add('probe', {}, { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: true }),
        timeoutMs,
        () => new Error('adding the probe job timed out'),
      );
      const wait = Math.min(PROBE_CONSUME_WAIT_MS, Math.max(1, timeoutMs - 100));
      const ok = await withTimeout(taken.then(() => true), wait, () => new Error('probe wait')).catch(() => false);
      if (!ok) {
        consumer.probeQueue.remove(id).catch(() => {});
        return `the probe worker did not take a probe job within ${wait} ms`;
      }
      this.#expireProbeKeys(consumer.probeQueue);
      return undefined;
    } finally {
      this.#probeWaiters.delete(id);
    }
  }

  /** The probe queue's keys outlive a crashed process: they expire unless a live one refreshes them. */
  #expireProbeKeys(probeQueue: Queue): void {
    const keys = ['meta', 'events', 'id', 'marker'].map((type) => probeQueue.toKey(type));
    this.#producer.pipeline(keys.map((key) => ['pexpire', key, PROBE_KEYS_TTL_MS])).exec().catch(() => {});
  }

  async consume(handler: DeliveryHandler, concurrency: number): Promise<void> {
    if (this.#closing) throw new Error('bullmq adapter is closed');
    this.#consumeOnce.claim(concurrency);

    const probeQueue = new Queue(this.#probeQueueName, {
      connection: this.#producer,
      prefix: this.#prefix,
      streams: { events: { maxLen: 10 } }, // nobody reads the probe queue's events
    });
    probeQueue.on('error', (err) => this.#logError('probe-queue', err));
    // getVersion() resolves once the queue has written its meta key.
    probeQueue.getVersion().then(() => this.#expireProbeKeys(probeQueue), () => {});
    const state: ConsumerState = {
      handler,
      concurrency,
      slots: new Semaphore(concurrency),
      probeQueue,
      lastDeliveryAt: Date.now(),
      lastReviveAt: 0,
    };
    const consumer: Consumer = Object.assign(state, { current: this.#startGeneration(state), retired: new Set<Generation>() });
    this.#consumer = consumer;

    // Wait briefly for the workers to connect, so a probe right after consume() does not time out.
    // Redis may be down: the workers then start consuming once it is back.
    const { main, probe } = consumer.current;
    await withTimeout(Promise.all([main.waitUntilReady(), probe.waitUntilReady()]), CONSUME_WAIT_MS, () =>
      new Error('workers not connected yet'),
    ).catch((err) => this.#log.warn({ err: errorText(err) }, 'bullmq workers will start consuming once Redis is reachable'));
  }

  #startGeneration(consumer: ConsumerState): Generation {
    const conn = this.#connect('worker', { maxRetriesPerRequest: null }); // BullMQ requires null for workers
    const inFlight = new InFlight();
    const unsettled = new Set<string>();
    const processJob = async (job: Job<EntryData, void>): Promise<void> => {
      if (gen.stopped) return; // BullMQ will not complete it: the job stays in Redis and is redelivered
      if (job.id) unsettled.add(job.id);
      consumer.lastDeliveryAt = Date.now();
      consumer.backlogSince = undefined;
      await inFlight.track(
        (async () => {
          const release = await consumer.slots.acquire();
          try {
            await deliver(consumer.handler, job.data.jobId, this.#log, { queueRef: job.id });
          } finally {
            release();
          }
        })(),
      );
    };

    const main = new Worker<EntryData, void>(this.#opts.queueName, processJob, {
      connection: conn,
      prefix: this.#prefix,
      autorun: true,
      concurrency: consumer.concurrency,
      lockDuration: this.#opts.lockDurationMs ?? LOCK_DURATION_MS,
      stalledInterval: this.#opts.stalledIntervalMs ?? STALLED_INTERVAL_MS,
      maxStalledCount: MAX_STALLED_COUNT,
      runRetryDelay: RUN_RETRY_DELAY_MS,
    });
    main.on('error', (err) => this.#logError('worker', err));
    main.on('stalled', (queueRef) => this.#log.warn({ queueRef }, 'job lost its worker; redelivering it'));
    main.on('completed', (job) => unsettled.delete(job.id ?? ''));
    main.on('failed', (job, err) => {
      unsettled.delete(job?.id ?? '');
      this.#log.warn({ err: err.message, jobId: job?.data.jobId, queueRef: job?.id }, 'bullmq failed a job');
    });

    const probe = new Worker(
      this.#probeQueueName,
      async (job: Job) => {
        if (job.id) this.#probeWaiters.get(job.id)?.();
      },
      {
        connection: conn,
        prefix: this.#prefix,
        autorun: true,
        concurrency: 1,
        skipStalledCheck: true, // nobody else reads this queue, and a probe job may simply be lost
        runRetryDelay: RUN_RETRY_DELAY_MS,
      },
    );
    probe.on('error', (err) => this.#logError('probe-worker', err));

    const gen: Generation = { conn, main, probe, inFlight, unsettled, stopped: false };
    return gen;
  }

  /** Replaces stuck workers by fresh ones; the old ones finish their jobs in the background. */
  #revive(consumer: Consumer, reason: string): boolean {
    const now = Date.now();
    if (this.#stopping || this.#closing || now - consumer.lastReviveAt < REVIVE_COOLDOWN_MS) return false;
    consumer.lastReviveAt = now;
    consumer.backlogSince = undefined;
    this.#log.warn({ reason }, 'bullmq worker stopped consuming; replacing it');
    const old = consumer.current;
    consumer.current = this.#startGeneration(consumer);
    consumer.retired.add(old);
    void this.#retire(old).then(() => consumer.retired.delete(old));
    return true;
  }

  /**
   * Retires a generation: stops its fetching, waits for its handlers, then closes its workers.
   *
   * The close is forced on purpose: BullMQ's graceful close waits for its blocking connection to
   * report 'end', which never happens while that connection is reconnecting (Redis away) or its
   * fetch is wedged; it would hang with its timers running. Once our handlers are done, forcing
   * loses nothing: it only skips waiting for BullMQ's own in-flight work.
   */
  #retire(gen: Generation): Promise<void> {
    gen.retiring ??= (async () => {
      await Promise.allSettled([gen.main.pause(true), gen.probe.pause(true)]);
      await gen.inFlight.drain();
      // Let BullMQ mark those jobs completed, or they would be redelivered once their lock expires.
      // Bounded: with Redis away that write waits for its return.
      const deadline = Date.now() + SETTLE_MS;
      while (gen.unsettled.size > 0 && Date.now() < deadline) await sleep(10);
      await this.#cut(gen);
      await gen.inFlight.drain(); // a job fetched while pausing
      await endConnection(gen.conn);
    })();
    return gen.retiring;
  }

  /** Force-closes a generation's workers: no new delivery starts after this. */
  async #cut(gen: Generation): Promise<void> {
    const closed = Promise.allSettled([gen.main.close(true), gen.probe.close(true)]);
    await withTimeout(closed, 1_000, () => new Error('close timed out')).catch(() => {
      this.#log.warn('bullmq worker did not close in time; disconnecting it');
      gen.conn.disconnect();
    });
    // From here on BullMQ no longer completes jobs: one fetched meanwhile is left to be redelivered.
    gen.stopped = true;
  }

  async stopConsuming(): Promise<void> {
    const consumer = this.#consumer;
    if (!consumer) return;
    this.#stopping ??= (async () => {
      await Promise.all([consumer.current, ...consumer.retired].map((gen) => this.#retire(gen)));
      // The probe queue belongs to this process only: drop its keys.
      await withTimeout(consumer.probeQueue.obliterate({ force: true }), OPERATION_TIMEOUT_MS, () =>
        new Error('obliterate timed out'),
      ).catch((err) => this.#log.debug({ err: errorText(err) }, 'could not remove the probe queue'));
      await consumer.probeQueue.close().catch(() => {});
    })();
    await this.#stopping;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const consumer = this.#consumer;
      if (consumer) {
        await withTimeout(this.stopConsuming(), CLOSE_GRACE_MS, () => new Error('stop timed out')).catch(() => {});
        // Handlers still running: stop waiting for them and release the connections.
        for (const gen of [consumer.current, ...consumer.retired]) {
          if (gen.stopped) continue;
          await this.#cut(gen);
          gen.conn.disconnect();
        }
        await consumer.probeQueue.close().catch(() => {});
      }
      for (const waiter of this.#probeWaiters.values()) waiter();
      await this.#queue.close().catch((err) => this.#log.debug({ err: errorText(err) }, 'queue close failed'));
      await endConnection(this.#producer); // BullMQ leaves connections it was given open

    })();
    return this.#closing;
  }

  // ── enqueue ────────────────────────────────────────────────────────────────

  async enqueue(dispatch: Dispatch): Promise<string> {
    const priority = refuseUnfit(dispatch, this.capabilities.maxDelayMs);
    // The dispatch key as BullMQ's job id: adding an id BullMQ still holds adds nothing, and
    // finished jobs are removed at once, so a dispatch whose entry was consumed can be sent again.
    const queueRef = dispatch.key;
    await this.#producerOp('enqueue', () =>
      this.#adds.add({
        name: dispatch.task,
        data: { jobId: dispatch.jobId, task: dispatch.task },
        opts: {
          jobId: queueRef,
          // BullMQ: 1 runs first, and 0 (no priority) jumps ahead of every prioritized job, so
          // every job gets one: 1000 → 1, 0 → 1001, -1000 → 2001.
          priority: 1001 - priority,
          delay: Math.max(0, Math.round(dispatch.delayMs ?? 0)),
          attempts: 1,
          removeOnComplete: true,
          removeOnFail: true,
        },
      }),
    );
    return queueRef;
  }

  /**
   * The dispatches of one tick go to Redis as one `addBulk` (one MULTI of BullMQ's add scripts, one
   * round trip) rather than one `add` each: a bulk enqueue of a thousand jobs costs a few writes.
   */
  readonly #adds = new Batcher<{ name: string; data: EntryData; opts: JobsOptions }>(
    async (jobs) => {
      await this.#queue.addBulk(jobs);
    },
    { inFlight: 2 },
  );

  async remove(queueRef: string): Promise<boolean> {
    return this.#producerOp('remove', async () => {
      // BullMQ's remove also deletes active jobs whose lock expired, and answers 1 for unknown ids.
      const state = await this.#queue.getJobState(queueRef);
      if (state !== 'waiting' && state !== 'prioritized' && state !== 'delayed') return false;
      // A job that became active meanwhile holds a lock, and BullMQ then refuses (0).
      return (await this.#queue.remove(queueRef)) === 1;
    });
  }

  // ── inspection ─────────────────────────────────────────────────────────────

  async counts(): Promise<QueueCounts> {
    const c = await this.#producerOp('counts', () => this.#queue.getJobCounts(...COUNT_TYPES));
    const n = (type: string) => c[type] ?? 0;
    return { waiting: n('wait') + n('prioritized') + n('paused'), delayed: n('delayed'), active: n('active') };
  }

  // ── internals ──────────────────────────────────────────────────────────────

  #connect(role: string, extra: RedisOptions): Redis {
    const redis = new Redis(this.#opts.redisUrl, {
      connectTimeout: 5_000,
      retryStrategy: (times) => Math.min(100 * times, 2_000), // reconnect forever, at most every 2 s
      ...extra,
    });
    // An 'error' event without a listener would crash the process.
    redis.on('error', (err) => this.#logError(`${role}-connection`, err));
    return redis;
  }

  /** Runs a producer command, failing at once when Redis is not connected and after OPERATION_TIMEOUT_MS. */
  async #producerOp<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.#closing) throw new Error(`bullmq ${what}: adapter is closed`);
    const deadline = performance.now() + OPERATION_TIMEOUT_MS;
    await this.#connected(what, OPERATION_TIMEOUT_MS);
    return withTimeout(op(), Math.max(1, deadline - performance.now()), () =>
      new QueueUnavailableError(`bullmq ${what}: Redis at ${this.#where} did not answer within ${OPERATION_TIMEOUT_MS} ms`),
    );
  }

  /**
   * Resolves once the producer connection is ready. Before its first connection BullMQ's Queue
   * would wait for Redis forever, so no command goes to it until then. A connection attempt in
   * flight is awaited (up to `timeoutMs`); between attempts Redis is known to be away: fail at once.
   */
  async #connected(what: string | undefined, timeoutMs: number): Promise<void> {
    const redis = this.#producer;
    const unavailable = () => {
      const op = what ? `bullmq ${what}: ` : '';
      const cause = this.#lastProducerError ? `: ${this.#lastProducerError}` : '';
      return new QueueUnavailableError(`${op}Redis at ${this.#where} is not connected (${redis.status})${cause}`);
    };
    if (redis.status === 'ready') return;
    if (redis.status !== 'wait' && redis.status !== 'connecting' && redis.status !== 'connect') throw unavailable();
    let settle = () => {};
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          const fail = () => reject(unavailable());
          redis.once('ready', resolve).once('close', fail).once('end', fail);
          settle = () => redis.off('ready', resolve).off('close', fail).off('end', fail);
        }),
        timeoutMs,
        unavailable,
      );
    } finally {
      settle();
    }
  }

  /**
   * Logs Redis/BullMQ errors: the first of a kind as a warning, repeats within 30 s at debug. One
   * outage reaches every connection, queue and worker with the same message: keyed by message only.
   */
  #logError(source: string, err: Error): void {
    const key = err.message;
    const now = Date.now();
    if (now - (this.#lastErrorLog.get(key) ?? 0) < 30_000) {
      this.#log.debug({ source, err: err.message }, 'bullmq error (repeat)');
      return;
    }
    if (this.#lastErrorLog.size > 100) this.#lastErrorLog.clear();
    this.#lastErrorLog.set(key, now);
    this.#log.warn({ source, err }, 'bullmq error');
  }
}

/** QUIT (lets pending replies arrive), bounded: a reconnecting client may never answer. */
async function endConnection(redis: Redis): Promise<void> {
  await withTimeout(redis.quit(), 1_000, () => new Error('quit timed out')).catch(() => {});
  redis.disconnect();
}

