import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { errorText } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { endConnection, type ErrorLog } from './bullmq-redis.ts';
import { CONSUME_WAIT_MS, deliver, InFlight, OPERATION_TIMEOUT_MS, type EntryData } from './shared.ts';
import type { DeliveryHandler } from './types.ts';

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
/** How long a health check waits for this process's probe worker to take the probe job. */
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
/** Leftover keys of a crashed process's probe queue expire after this. */
const PROBE_KEYS_TTL_MS = 24 * 60 * 60 * 1_000;

export interface BullmqConsumerOptions {
  queueName: string;
  prefix: string;
  log: Logger;
  errors: ErrorLog;
  /** The adapter's producer: the probe queue writes through it. */
  producer: Redis;
  /** The adapter's queue: its counts tell a stuck worker from an idle one. */
  queue: Queue<EntryData, void>;
  connect(role: string, extra: RedisOptions): Redis;
  handler: DeliveryHandler;
  concurrency: number;
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  stuckAfterMs?: number;
}

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

/**
 * This process's BullMQ workers, kept consuming. BullMQ workers can stop taking jobs while Redis
 * answers (a known failure after a reconnect), so health is proven by consumption: a probe job
 * through this process's own probe queue, and ready jobs left untaken while slots are free. A
 * worker found stuck is replaced by a fresh generation; the old one finishes its jobs beside it.
 */
export class BullmqConsumer {
  readonly #opts: BullmqConsumerOptions;
  readonly #log: Logger;
  /** Holds the process-wide limit even while an old generation finishes its jobs next to a new one. */
  readonly #slots: Semaphore;
  /** This process's own probe queue: a shared one could be drained by another process's probe worker. */
  readonly #probeQueue: Queue;
  readonly #probeQueueName: string;
  readonly #probeWaiters = new Map<string, () => void>();
  #current: Generation;
  /** Replaced generations still finishing their jobs. */
  readonly #retired = new Set<Generation>();
  #lastDeliveryAt = Date.now();
  /** Since when jobs have been waiting while this process had free slots and took none. */
  #backlogSince: number | undefined;
  #lastReviveAt = 0;
  #stopping: Promise<void> | undefined;

  constructor(opts: BullmqConsumerOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#slots = new Semaphore(opts.concurrency);
    this.#probeQueueName = `${opts.queueName}__probe_${randomUUID().slice(0, 8)}`;
    this.#probeQueue = new Queue(this.#probeQueueName, {
      connection: opts.producer,
      prefix: opts.prefix,
      streams: { events: { maxLen: 10 } }, // nobody reads the probe queue's events
    });
    this.#probeQueue.on('error', (err) => opts.errors.report('probe-queue', err));
    // getVersion() resolves once the queue has written its meta key.
    this.#probeQueue.getVersion().then(() => this.#expireProbeKeys(), () => {});
    this.#current = this.#startGeneration();
  }

  /** Waits briefly for the workers to connect; with Redis away they consume once it is back. */
  async started(): Promise<void> {
    const { main, probe } = this.#current;
    await withTimeout(Promise.all([main.waitUntilReady(), probe.waitUntilReady()]), CONSUME_WAIT_MS, () =>
      new Error('workers not connected yet'),
    ).catch((err) => this.#log.warn({ err: errorText(err) }, 'bullmq workers will start consuming once Redis is reachable'));
  }

  /** False once stop() began. */
  get consuming(): boolean {
    return !this.#stopping;
  }

  /** Why the workers are not consuming (and whether they are being restarted), or undefined when they are. */
  async health(timeoutMs: number): Promise<string | undefined> {
    if (this.#stopping) return undefined;
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    const stuck = (await this.#mainWorkerStuck(left())) ?? (await this.#probeJob(left()));
    if (!stuck) return undefined;
    const action = this.#revive(stuck) ? 'restarting it' : 'it was restarted less than 30 s ago';
    return `worker not consuming: ${stuck}; ${action}`;
  }

  /** Signs of a stuck main worker: its loop ended, or jobs wait a while although it has free slots. */
  async #mainWorkerStuck(timeoutMs: number): Promise<string | undefined> {
    const { main } = this.#current;
    if (!main.isRunning() && !main.closing) return 'its fetch loop has ended';

    const counts = await withTimeout(this.#opts.queue.getJobCounts('wait', 'prioritized'), timeoutMs, () =>
      new Error('counts timed out'),
    );
    const ready = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    const now = Date.now();
    if (ready === 0 || this.#slots.inUse >= this.#opts.concurrency) {
      this.#backlogSince = undefined;
      return undefined;
    }
    this.#backlogSince ??= now;
    const idleFor = now - Math.max(this.#backlogSince, this.#lastDeliveryAt);
    if (idleFor < (this.#opts.stuckAfterMs ?? STUCK_AFTER_MS)) return undefined;
    return `${ready} job(s) ready for ${idleFor} ms while it had free slots and took none`;
  }

  /** End to end: a job through Redis to this process's probe worker, which runs on the same code path. */
  async #probeJob(timeoutMs: number): Promise<string | undefined> {
    const id = randomUUID();
    const taken = new Promise<void>((resolve) => this.#probeWaiters.set(id, resolve));
    try {
      await withTimeout(
        this.#probeQueue.add('probe', {}, { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: true }),
        timeoutMs,
        () => new Error('adding the probe job timed out'),
      );
      const wait = Math.min(PROBE_CONSUME_WAIT_MS, Math.max(1, timeoutMs - 100));
      const ok = await withTimeout(taken.then(() => true), wait, () => new Error('probe wait')).catch(() => false);
      if (!ok) {
        this.#probeQueue.remove(id).catch(() => {});
        return `the probe worker did not take a probe job within ${wait} ms`;
      }
      this.#expireProbeKeys();
      return undefined;
    } finally {
      this.#probeWaiters.delete(id);
    }
  }

  /** The probe queue's keys outlive a crashed process: they expire unless a live one refreshes them. */
  #expireProbeKeys(): void {
    const keys = ['meta', 'events', 'id', 'marker'].map((type) => this.#probeQueue.toKey(type));
    this.#opts.producer.pipeline(keys.map((key) => ['pexpire', key, PROBE_KEYS_TTL_MS])).exec().catch(() => {});
  }

  #startGeneration(): Generation {
    const { queueName, prefix, errors, concurrency, handler } = this.#opts;
    const conn = this.#opts.connect('worker', { maxRetriesPerRequest: null }); // BullMQ requires null for workers
    const inFlight = new InFlight();
    const unsettled = new Set<string>();
    const processJob = async (job: Job<EntryData, void>): Promise<void> => {
      if (gen.stopped) return; // BullMQ will not complete it: the job stays in Redis and is redelivered
      if (job.id) unsettled.add(job.id);
      this.#lastDeliveryAt = Date.now();
      this.#backlogSince = undefined;
      await inFlight.track(
        (async () => {
          const release = await this.#slots.acquire();
          try {
            await deliver(handler, job.data.jobId, this.#log, { queueRef: job.id });
          } finally {
            release();
          }
        })(),
      );
    };

    const main = new Worker<EntryData, void>(queueName, processJob, {
      connection: conn,
      prefix,
      autorun: true,
      concurrency,
      lockDuration: this.#opts.lockDurationMs ?? LOCK_DURATION_MS,
      stalledInterval: this.#opts.stalledIntervalMs ?? STALLED_INTERVAL_MS,
      maxStalledCount: MAX_STALLED_COUNT,
      runRetryDelay: RUN_RETRY_DELAY_MS,
    });
    main.on('error', (err) => errors.report('worker', err));
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
        prefix,
        autorun: true,
        concurrency: 1,
        skipStalledCheck: true, // nobody else reads this queue, and a probe job may simply be lost
        runRetryDelay: RUN_RETRY_DELAY_MS,
      },
    );
    probe.on('error', (err) => errors.report('probe-worker', err));

    const gen: Generation = { conn, main, probe, inFlight, unsettled, stopped: false };
    return gen;
  }

  /** Replaces stuck workers by fresh ones; the old ones finish their jobs in the background. */
  #revive(reason: string): boolean {
    const now = Date.now();
    if (this.#stopping || now - this.#lastReviveAt < REVIVE_COOLDOWN_MS) return false;
    this.#lastReviveAt = now;
    this.#backlogSince = undefined;
    this.#log.warn({ reason }, 'bullmq worker stopped consuming; replacing it');
    const old = this.#current;
    this.#current = this.#startGeneration();
    this.#retired.add(old);
    void this.#retire(old).then(() => this.#retired.delete(old));
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

  /** Stops fetching, lets running handlers finish, and drops the probe queue. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all([this.#current, ...this.#retired].map((gen) => this.#retire(gen)));
      // The probe queue belongs to this process only: drop its keys.
      await withTimeout(this.#probeQueue.obliterate({ force: true }), OPERATION_TIMEOUT_MS, () =>
        new Error('obliterate timed out'),
      ).catch((err) => this.#log.debug({ err: errorText(err) }, 'could not remove the probe queue'));
      await this.#probeQueue.close().catch(() => {});
    })();
    return this.#stopping;
  }

  /** stop(), waiting at most `graceMs` for running handlers before cutting every connection. */
  async close(graceMs: number): Promise<void> {
    await withTimeout(this.stop(), graceMs, () => new Error('stop timed out')).catch(() => {});
    for (const gen of [this.#current, ...this.#retired]) {
      if (gen.stopped) continue;
      await this.#cut(gen);
      gen.conn.disconnect();
    }
    await this.#probeQueue.close().catch(() => {});
    for (const waiter of this.#probeWaiters.values()) waiter();
  }
}
