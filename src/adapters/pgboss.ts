import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgBoss, type JobInsert, type JobWithMetadata, type WorkOptions } from 'pg-boss';
import { Batcher } from '../lib/batcher.ts';
import { errorText } from '../lib/errors.ts';
import { withTimeout } from '../lib/timeouts.ts';
import { Semaphore, type Release } from '../lib/semaphore.ts';
import { isUuid } from '../lib/uuid.ts';
import { refuseUnfit } from './errors.ts';
import type { Logger } from '../lib/logger.ts';
import { CONSUME_WAIT_MS, ConsumeOnce, deliver, InFlight, operation, timedProbe, type EntryData } from './shared.ts';
import { priorityWithRank, type DeliveryHandler, type Dispatch, type ProbeResult, type QueueAdapter, type QueueCapabilities, type QueueCounts } from './types.ts';

export interface PgbossAdapterOptions {
  connectionString: string;
  /** Schema pg-boss keeps its tables in (created on first use). */
  schema: string;
  /** The one pg-boss queue every task type goes through. */
  queueName: string;
  logger: Logger;
  /**
   * A delivered job whose consumer stops refreshing its heartbeat for this long (killed process,
   * lost connection) is handed to another consumer. pg-boss needs an integer >= 10. Default 30,
   * which with the 10 s supervision below brings a killed worker's job back within ~50 s.
   */
  heartbeatSeconds?: number;
  /**
   * Backstop poll of each consumer worker. NOTIFY wakes workers for new jobs at once; the poll is
   * what picks up delayed jobs coming due and jobs handed back, so it is also how late those run.
   * Default 0.5 (pg-boss's minimum).
   */
  pollIntervalSeconds?: number;
  /** How long close() lets running handlers finish before pg-boss hands their jobs back. Default 10 s. */
  closeTimeoutMs?: number;
}

/** pg-boss's own connect timeout, below our operation timeout so its error is the one reported. */
const CONNECT_TIMEOUT_MS = 3_000;
const PROBE_TIMEOUT_MS = 4_500;
/** After consume()'s wait, its workers are started again every 1 s, doubling to this, until they run. */
const CONSUME_RETRY_MAX_MS = 10_000;
/**
 * Jobs per fetch. Above 1 so `burstWhenBatchFull` applies: a full batch means more is waiting and
 * the worker fetches again at once. With batch 1 a worker sleeps its poll interval after every job
 * unless a NOTIFY arrived meanwhile, so a backlog left when the sends stop drains at one job per
 * worker per poll (reported: 2,000 jobs at concurrency 20 stuck at ~1,330 until the 30 s default
 * backstop). Not more than 2: jobs beyond the free slots are handed back (see #runBatch), and
 * measured on 2,000 queued 50 ms jobs at concurrency 20, batch 5 handed back ~5 times as many
 * jobs as batch 2 for the same throughput.
 */
const BATCH_SIZE = 2;
/**
 * How long a fetched job beyond the free slots waits for one before it is handed back. Long
 * enough for a short job's slot; short, since a held job is one no other consumer can take.
 */
const HOLD_MS = 250;
/**
 * Effectively unlimited pg-boss retries, with retryDelay 0 and no backoff. Our core does all
 * retrying; the handler resolves once the ledger has the outcome, so a pg-boss "retry" is only ever
 * a job taken back from a consumer: heartbeat lost (killed process), expired, failed back by a
 * shutdown past its grace, or handed back here for want of a slot. pg-boss fails such a job to
 * `retry` (start_after = now + retryDelay) while retry_count < retryLimit, else to `failed`, where
 * it is never delivered again: retryLimit 0 would lose every killed worker's job. retry_count also
 * grows with each hand-back, hence the large limit rather than a small one.
 */
const RETRY_LIMIT = 1_000_000;
/**
 * pg-boss's upper bound. Expiry is not how lost jobs come back (the heartbeat is), and the core
 * enforces task timeouts; this only keeps pg-boss from failing a legitimately long job.
 */
const EXPIRE_IN_SECONDS = 24 * 60 * 60;
/**
 * The supervisor pass that fails back jobs with a stale heartbeat runs at most this often (and the
 * monitor claim, shared by all instances, at the same period). pg-boss's default is 60 s, which
 * would make a lost job wait heartbeatSeconds + up to 2 min.
 */
const SUPERVISE_INTERVAL_SECONDS = 10;
/** Completed jobs are history only (the ledger is the truth): keep an hour, sweep every 5 min. */
const DELETE_AFTER_SECONDS = 60 * 60;
const MAINTENANCE_INTERVAL_SECONDS = 5 * 60;

const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function createPgbossAdapter(opts: PgbossAdapterOptions): QueueAdapter {
  return new PgbossAdapter(opts);
}

class PgbossAdapter implements QueueAdapter {
  readonly name = 'pgboss' as const;
  readonly capabilities: QueueCapabilities = {
    durable: true,
    deduplicates: true,
    remove: true,
    maxDelayMs: Infinity,
    priorityLevels: 2001,
    shared: true,
  };

  /**
   * Dispatches of one tick go in one INSERT (one commit, one NOTIFY). pg-boss's insert skips an id
   * that exists (ON CONFLICT DO NOTHING): that is what makes enqueue idempotent by key while pg-boss
   * holds the entry. An id skipped because its entry is finished (a delivery consumed without its
   * claim) is deleted and inserted again, or that dispatch could never be sent again; only then
   * does a batch cost more than its insert.
   */
  readonly #inserts = new Batcher<JobInsert<EntryData> & { id: string }>(
    async (jobs) => {
      const queue = this.#opts.queueName;
      const unique = [...new Map(jobs.map((job) => [job.id, job])).values()];
      const boss = await this.#boss();
      const inserted = new Set(await boss.insert(queue, unique, { returnId: true }));
      const skipped = unique.filter((job) => !inserted.has(job.id));
      if (skipped.length === 0) return;
      const { rows } = await boss.getDb().executeSql(
        `DELETE FROM ${this.#opts.schema}.job WHERE name = $1 AND id = ANY($2::uuid[]) AND state IN ('completed', 'failed', 'cancelled')
         RETURNING id`,
        [queue, skipped.map((job) => job.id)],
      );
      const finished = new Set((rows as { id: string }[]).map((row) => row.id));
      if (finished.size > 0) await boss.insert(queue, skipped.filter((job) => finished.has(job.id)));
    },
    { inFlight: 2 },
  );

  /**
   * Deliveries settled in the same tick are completed by one statement (pg-boss's complete takes a
   * list of attempts), not one each: every job of a batch is settled as soon as its handler returns.
   */
  readonly #completions = new Batcher<{ id: string; retryCount: number }>(
    async (attempts) => {
      const boss = await this.#boss();
      await boss.complete(this.#opts.queueName, attempts);
    },
    { inFlight: 2 },
  );

  readonly #opts: PgbossAdapterOptions;
  readonly #log: Logger;
  readonly #probeQueue: string;
  readonly #heartbeatSeconds: number;
  readonly #pollSeconds: number;
  readonly #closeTimeoutMs: number;

  #starting: Promise<PgBoss> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  readonly #consumeOnce = new ConsumeOnce();
  /** Set by consume(): resolves once pg-boss's workers run (it keeps trying while PostgreSQL is away). */
  #consuming: Promise<void> | undefined;
  #consumeError: unknown;
  #consumingStarted = false;
  #concurrency = 0;
  /**
   * Free handler slots of this process: taken when a handler starts, given back when its job is
   * settled, so at most `concurrency` handlers run whatever pg-boss has fetched.
   */
  #slots: Semaphore | undefined;
  /** Aborted by stopConsuming()/close(): fetched jobs are handed back instead of started. */
  readonly #stop = new AbortController();
  readonly #inFlight = new InFlight();

  constructor(opts: PgbossAdapterOptions) {
    if (!SQL_IDENTIFIER.test(opts.schema)) throw new Error(`pg-boss schema must be a lower-case SQL identifier, got ${JSON.stringify(opts.schema)}`);
    const heartbeatSeconds = opts.heartbeatSeconds ?? 30;
    if (!Number.isInteger(heartbeatSeconds) || heartbeatSeconds < 10) {
      throw new Error(`pg-boss heartbeatSeconds must be an integer >= 10, got ${heartbeatSeconds}`);
    }
    const pollSeconds = opts.pollIntervalSeconds ?? 0.5;
    if (!(pollSeconds >= 0.5)) throw new Error(`pg-boss pollIntervalSeconds must be >= 0.5, got ${pollSeconds}`);
    this.#opts = opts;
    this.#log = opts.logger;
    this.#probeQueue = `${opts.queueName}__probe`;
    this.#heartbeatSeconds = heartbeatSeconds;
    this.#pollSeconds = pollSeconds;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 10_000;
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  probe(): Promise<ProbeResult> {
    return timedProbe(PROBE_TIMEOUT_MS, () => this.#probe());
  }

  async #probe(): Promise<string> {
    const boss = await this.#boss();
    // Write and delete a job: proves the schema is there and writable, not just that Postgres answers.
    const id = await boss.send(this.#probeQueue, {});
    if (id) await boss.deleteJob(this.#probeQueue, id);
    const where = `PostgreSQL answered (pg-boss schema ${this.#opts.schema})`;
    if (!this.#consuming) return where;
    if (!this.#consumingStarted) throw new Error(`${where}, but this process's workers have not started yet: ${errorText(this.#consumeError)}`);
    return `${where}; ${this.#workerHealth(boss)}`;
  }

  /**
   * Checks this process's workers from pg-boss's own bookkeeping: each one must be in a handler
   * or have fetched recently (idle workers poll every pollIntervalSeconds), and its last attempt
   * must not have failed. Throws with the reason otherwise.
   */
  #workerHealth(boss: PgBoss): string {
    if (this.#stop.signal.aborted) return 'consumer stopped';
    const workers = boss.getWipData().filter((w) => w.name === this.#opts.queueName);
    if (workers.length === 0) throw new Error('no pg-boss worker is running for the queue');
    const now = Date.now();
    const staleMs = Math.max(10_000, this.#pollSeconds * 1000 * 10);
    for (const w of workers) {
      if (w.state !== 'active') throw new Error(`a pg-boss worker is ${w.state}`);
      if (w.count > 0) continue; // busy with a batch
      if (w.lastErrorOn !== null && (w.lastFetchedOn === null || w.lastErrorOn > w.lastFetchedOn)) {
        throw new Error(`a pg-boss worker's last fetch failed: ${errorText(w.lastError)}`);
      }
      const lastSeen = w.lastFetchedOn ?? w.createdOn;
      if (now - lastSeen > staleMs) throw new Error(`a pg-boss worker has not fetched for ${Math.round((now - lastSeen) / 1000)} s`);
    }
    return `${workers.length} worker(s) fetching`;
  }

  async consume(handler: DeliveryHandler, concurrency: number): Promise<void> {
    if (this.#closed) throw new Error('the pg-boss adapter is closed');
    this.#consumeOnce.claim(concurrency);
    this.#concurrency = concurrency;
    this.#slots = new Semaphore(concurrency);
    this.#consuming = this.#keepTrying(handler);
    // Not past a short wait: while PostgreSQL is away the workers start once it answers.
    const started = await withTimeout(this.#consuming.then(() => true), CONSUME_WAIT_MS, 'pg-boss consume').catch(() => false);
    if (!started) this.#log.warn({ err: this.#consumeError }, 'pg-boss workers will start consuming once PostgreSQL is reachable');
  }

  /** Starts pg-boss's workers, again after each failure (1 s doubling to 10 s) until they run or consumption stops. */
  async #keepTrying(handler: DeliveryHandler): Promise<void> {
    for (let pause = 1_000; !this.#stop.signal.aborted; pause = Math.min(pause * 2, CONSUME_RETRY_MAX_MS)) {
      try {
        await this.#consume(handler);
        this.#consumingStarted = true;
        return;
      } catch (error) {
        this.#consumeError = error;
        this.#log.debug({ err: error }, 'pg-boss workers could not start; trying again');
        await sleep(pause, undefined, { signal: this.#stop.signal }).catch(() => {});
      }
    }
  }

  async #consume(handler: DeliveryHandler): Promise<void> {
    const boss = await this.#boss();
    const options = {
      // One pg-boss worker per slot, so a worker waiting on its own batch never leaves a slot idle.
      localConcurrency: this.#concurrency,
      batchSize: BATCH_SIZE,
      burstWhenBatchFull: true,
      pollingIntervalSeconds: this.#pollSeconds,
      notifyPollingIntervalSeconds: this.#pollSeconds,
      // For priority and creation time: the batch arrives in no particular order.
      includeMetadata: true as const,
    } satisfies WorkOptions;
    await boss.work<EntryData, void, typeof options>(this.#opts.queueName, options, (jobs) => this.#runBatch(boss, jobs, handler));
  }

  /**
   * Runs one fetched batch: starts as many jobs as there are free slots, in priority order; the
   * rest wait up to HOLD_MS for a slot, and what is still waiting then goes back to the queue, where
   * any consumer (this one included) may take it. Holding them longer would starve other processes
   * and let later high-priority jobs wait behind them. Resolves when every started job is settled;
   * pg-boss's own completion of the batch afterwards is a no-op, since each job was settled by its
   * attempt.
   */
  async #runBatch(boss: PgBoss, jobs: JobWithMetadata<EntryData>[], handler: DeliveryHandler): Promise<void> {
    const slots = this.#slots!;
    const ordered = [...jobs].sort((a, b) => b.priority - a.priority || a.createdOn.getTime() - b.createdOn.getTime());
    // pg-boss fetches again at once only after a full batch (burst); after a short one it waits a poll.
    const fetchesNext = jobs.length === BATCH_SIZE;
    let running = 0;
    const start = (job: JobWithMetadata<EntryData>, release: Release) => {
      running++;
      const delivery = this.#deliver(boss, job, handler).finally(() => {
        running--;
        // Waking a worker waiting to fetch is for nothing when this batch's worker fetches next.
        release({ wakeWatcher: running > 0 || !fetchesNext });
      });
      return this.#inFlight.track(delivery);
    };
    const started: Promise<void>[] = [];
    const excess: JobWithMetadata<EntryData>[] = [];
    for (const job of ordered) {
      const release = this.#stop.signal.aborted ? undefined : slots.tryAcquire();
      if (release) started.push(start(job, release));
      else excess.push(job);
    }
    // A job beyond the free slots waits a moment for one (a short job's slot frees within
    // milliseconds) before it is handed back: a hand-back is a DELETE and a re-INSERT in pg-boss,
    // and the dead rows it leaves slow every fetch after it (BENCHMARKS.md §1). A job already
    // fetched takes a freed slot before a worker waiting to fetch: it needs no fetch.
    if (excess.length > 0) {
      const held = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(HOLD_MS)]);
      while (excess.length > 0) {
        const release = await slots.acquire(held).catch(() => undefined);
        if (!release) break;
        started.push(start(excess.shift()!, release));
      }
    }
    if (excess.length > 0) {
      await boss
        .fail(this.#opts.queueName, excess.map(attempt), { value: 'handed back: no free slot in this consumer' })
        .catch((error: unknown) => this.#log.warn({ err: error, count: excess.length }, 'could not hand back fetched jobs; pg-boss will once their heartbeat lapses'));
    }
    if (started.length === 0) {
      // Every slot is busy: wait for one before letting pg-boss fetch again, or the worker would
      // spin fetching and handing back. Looked at again every 5 s, as a release may not wake it.
      while (slots.inUse === slots.limit && !this.#stop.signal.aborted) {
        await slots.whenAvailable(AbortSignal.any([this.#stop.signal, AbortSignal.timeout(5_000)]));
      }
      return;
    }
    await Promise.all(started);
  }

  async #deliver(boss: PgBoss, job: JobWithMetadata<EntryData>, handler: DeliveryHandler): Promise<void> {
    const queue = this.#opts.queueName;
    try {
      const jobId = job.data?.jobId;
      if (typeof jobId !== 'string') {
        this.#log.error({ queueRef: job.id, data: job.data }, 'pg-boss job without a jobId; dropping it');
        await boss.complete(queue, attempt(job));
        return;
      }
      await deliver(handler, jobId, this.#log, { queueRef: job.id });
      // Fenced to this attempt: if the job was taken back meanwhile (lost heartbeat), this is a no-op.
      await this.#completions.add(attempt(job));
    } catch (error) {
      // The job stays active without heartbeats, so pg-boss delivers it again later; the ledger
      // drops that delivery if the job is done.
      this.#log.warn({ err: error, queueRef: job.id }, 'could not settle a pg-boss job');
    }
  }

  async stopConsuming(): Promise<void> {
    if (!this.#consuming) return;
    if (!this.#consumingStarted) {
      this.#stop.abort(); // no worker runs: stop trying to start them
      await this.#consuming;
      if (!this.#consumingStarted) return;
    }
    const boss = await this.#starting?.catch(() => undefined);
    // Workers stop fetching first, then those waiting for a slot are let go (in that order, or a
    // released worker could fetch and hand back a batch once more). `wait` resolves once every
    // worker loop has ended, i.e. its batch, and so its handlers, returned.
    const stopped = boss?.offWork(this.#opts.queueName, { wait: true });
    this.#stop.abort();
    await stopped;
    await this.#inFlight.drain();
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const boss = await this.#starting?.catch(() => undefined);
    if (boss && this.#consuming) boss.offWork(this.#opts.queueName, { wait: false }).catch(() => {});
    this.#stop.abort();
    if (!boss) return;
    // graceful: waits up to `timeout` for running handlers, then fails their jobs back to the queue
    // (so another consumer gets them) and closes the pool; every pg-boss timer is cleared.
    await boss.stop({ graceful: true, close: true, timeout: this.#closeTimeoutMs });
  }

  // ── enqueue ────────────────────────────────────────────────────────────────

  async enqueue(dispatch: Dispatch): Promise<string> {
    refuseUnfit(dispatch, this.capabilities.maxDelayMs);
    return operation('pg-boss enqueue', () => this.#enqueue(dispatch));
  }

  async #enqueue({ jobId, key, task, delayMs, priority, rank }: Dispatch): Promise<string> {
    const id = uuidFromKey(key);
    await this.#inserts.add({
      id,
      data: { jobId, task },
      // Higher runs first in pg-boss as in our contract.
      priority: priorityWithRank(Math.round(priority ?? 0), rank),
      // An interval, which pg-boss adds to the database's clock: app/database clock skew does not
      // shift the delay.
      ...(delayMs && delayMs > 0 ? { startAfter: `${Math.round(delayMs)} milliseconds` } : {}),
    });
    return id;
  }

  async remove(queueRef: string): Promise<boolean> {
    if (!isUuid(queueRef)) return false;
    return operation('pg-boss remove', () => this.#remove(queueRef));
  }

  async #remove(queueRef: string): Promise<boolean> {
    const boss = await this.#boss();
    // Only a job no consumer holds: pg-boss's deleteJob/cancel would also take an active one.
    // Atomic with fetching, which locks the row it claims.
    const { rows } = await boss.getDb().executeSql(
      `DELETE FROM ${this.#opts.schema}.job WHERE name = $1 AND id = $2 AND state IN ('created', 'retry') RETURNING id`,
      [this.#opts.queueName, queueRef],
    );
    return rows.length > 0;
  }

  // ── inspection ─────────────────────────────────────────────────────────────

  async counts(): Promise<QueueCounts> {
    return operation('pg-boss counts', () => this.#counts());
  }

  async #counts(): Promise<QueueCounts> {
    const boss = await this.#boss();
    // Read live: getQueue()/getQueueStats() serve counts cached by the monitor pass.
    const schema = this.#opts.schema;
    const { rows } = await boss.getDb().executeSql(
      `SELECT
         count(*) FILTER (WHERE state IN ('created', 'retry') AND start_after <= ${schema}.job_now())::int AS waiting,
         count(*) FILTER (WHERE state IN ('created', 'retry') AND start_after > ${schema}.job_now())::int AS delayed,
         count(*) FILTER (WHERE state = 'active')::int AS active
       FROM ${schema}.job
       WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
      [this.#opts.queueName],
    );
    const row = rows[0] as QueueCounts | undefined;
    return { waiting: row?.waiting ?? 0, delayed: row?.delayed ?? 0, active: row?.active ?? 0 };
  }

  // ── pg-boss instance ───────────────────────────────────────────────────────

  /** Starts pg-boss on first use; concurrent callers share the start, a failed start is retried by the next call. */
  #boss(): Promise<PgBoss> {
    if (this.#closed) return Promise.reject(new Error('the pg-boss adapter is closed'));
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<PgBoss> {
    const { connectionString, schema, queueName } = this.#opts;
    const boss = new PgBoss({
      connectionString,
      schema,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      useListenNotify: true,
      superviseIntervalSeconds: SUPERVISE_INTERVAL_SECONDS,
      monitorIntervalSeconds: SUPERVISE_INTERVAL_SECONDS,
      maintenanceIntervalSeconds: MAINTENANCE_INTERVAL_SECONDS,
      // No cron schedules here: the core schedules; this spares pg-boss's cron and clock timers.
      schedule: false,
    });
    // Connection loss, failed fetches and the like: pg-boss recovers on its own; an unheard
    // 'error' event would crash the process.
    boss.on('error', (error) => this.#log.warn({ err: error }, 'pg-boss error'));
    boss.on('warning', (warning) => this.#log.warn({ data: warning.data }, `pg-boss: ${warning.message}`));
    try {
      await boss.start();
      const queue = {
        notify: true, // NOTIFY on send, so idle workers wake at once
        retryLimit: RETRY_LIMIT,
        retryDelay: 0,
        retryBackoff: false,
        expireInSeconds: EXPIRE_IN_SECONDS,
        heartbeatSeconds: this.#heartbeatSeconds,
        deleteAfterSeconds: DELETE_AFTER_SECONDS,
      };
      await boss.createQueue(queueName, queue);
      // createQueue leaves an existing queue as it is: bring its settings to this version's.
      await boss.updateQueue(queueName, queue);
      await boss.createQueue(this.#probeQueue, { deleteAfterSeconds: 60 });
    } catch (error) {
      await boss.stop({ graceful: false, close: true }).catch(() => {});
      throw error;
    }
    this.#log.debug({ schema, queue: queueName }, 'pg-boss started');
    return boss;
  }
}

/** pg-boss ids are UUIDs: a dispatch key maps to one, always the same (name-based, as UUID v5). */
function uuidFromKey(key: string): string {
  const hex = createHash('sha1').update(`jobgraph:${key}`).digest('hex');
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** The job as the attempt this consumer fetched, so settling it cannot touch a later attempt. */
function attempt(job: JobWithMetadata<EntryData>): { id: string; retryCount: number } {
  return { id: job.id, retryCount: job.retryCount };
}
