import { Queue, type JobsOptions, type JobType } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { Batcher } from '../lib/batcher.ts';
import { errorText } from '../lib/errors.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { QueueUnavailableError, refuseUnfit } from './errors.ts';
import type { Logger } from '../lib/logger.ts';
import { BullmqConsumer } from './bullmq-consumer.ts';
import { connectRedis, endConnection, ErrorLog } from './bullmq-redis.ts';
import { ConsumeOnce, OPERATION_TIMEOUT_MS, timedProbe, type EntryData } from './shared.ts';
import { priorityWithRank, type DeliveryHandler, type Dispatch, type ProbeResult, type QueueAdapter, type QueueCapabilities, type QueueCounts } from './types.ts';

export interface BullmqAdapterOptions {
  redisUrl: string;
  queueName: string;
  logger: Logger;
  /** Prefix of every BullMQ key, so jobgraph's keys are grouped: `<prefix>:<queueName>:…`. */
  prefix?: string;
  // Optional tuning, for tests: production uses the defaults in bullmq-consumer.ts.
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** A worker that takes no job for this long while jobs wait and it has free slots is restarted. */
  stuckAfterMs?: number;
}

/** probe() answers within this, whatever happens. */
const PROBE_BUDGET_MS = 4_500;
/** close() waits this long for in-flight handlers before cutting the connections. */
const CLOSE_GRACE_MS = 2_000;
/** BullMQ's types omit 'paused', which its getCounts script does support. */
const COUNT_TYPES = ['wait', 'prioritized', 'delayed', 'active', 'paused', 'waiting-children'] as JobType[];

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
  readonly #errors: ErrorLog;
  #lastProducerError = '';
  #consumer?: BullmqConsumer;
  readonly #consumeOnce = new ConsumeOnce();
  #closing?: Promise<void>;

  constructor(opts: BullmqAdapterOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'bullmq', queue: opts.queueName });
    this.#errors = new ErrorLog(this.#log);
    this.#prefix = opts.prefix ?? 'jobgraph';

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
    this.#queue.on('error', (err) => this.#errors.report('queue', err));
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

    if (!this.#consumer?.consuming) return { ok: true, detail: `Redis at ${this.#where} answers and accepts writes` };
    const failure = await this.#consumer.health(left());
    if (failure) return { ok: false, detail: failure };
    return { ok: true, detail: `Redis at ${this.#where} answers, accepts writes, and this process's worker consumes` };
  }

  async consume(handler: DeliveryHandler, concurrency: number): Promise<void> {
    if (this.#closing) throw new Error('bullmq adapter is closed');
    this.#consumeOnce.claim(concurrency);
    const { queueName, stalledIntervalMs, lockDurationMs, stuckAfterMs } = this.#opts;
    this.#consumer = new BullmqConsumer({
      queueName,
      prefix: this.#prefix,
      log: this.#log,
      errors: this.#errors,
      producer: this.#producer,
      queue: this.#queue,
      connect: (role, extra) => this.#connect(role, extra),
      handler,
      concurrency,
      stalledIntervalMs,
      lockDurationMs,
      stuckAfterMs,
    });
    // So a probe right after consume() does not time out.
    await this.#consumer.started();
  }

  async stopConsuming(): Promise<void> {
    await this.#consumer?.stop();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#consumer?.close(CLOSE_GRACE_MS);
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
          // every job gets one: priority 1000 rank 0 → 1, priority -1000 rank 999 → 2,001,000
          // (BullMQ's highest is 2,097,152).
          priority: 1_000_001 - priorityWithRank(priority, dispatch.rank),
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
    return connectRedis(this.#opts.redisUrl, role, extra, this.#errors);
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
}
