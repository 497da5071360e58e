import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import pg from 'pg';
import { scopedQueueName } from '../../../src/jobs/start.ts';
import { afterEach, expect } from 'vitest';
import { OwnRedis } from '../../helpers/ports.ts';
import { Deployment, type ApiProcess, type WorkerProcess } from './deployment.ts';
import { startLoad, type Load, type LoadOptions } from './load.ts';
import { OwnPostgres } from './postgres.ts';
import { TcpProxy } from './proxy.ts';
import { FAULT_ENV } from './env.ts';
import { recordRow } from './report.ts';
import { countDeadlockLogs, verifyLedger, type Verdict } from './verify.ts';

export { FAULT_ENV };

export type Backend = 'bullmq' | 'pgboss' | 'rabbitmq';

/** The machine's RabbitMQ: a broker of the test's own is too heavy, so faults are cut by a proxy in front of it. */
const SHARED_AMQP_PORT = Number(new URL(process.env.AMQP_URL ?? 'amqp://127.0.0.1:5672').port || 5672);

export interface ScenarioOptions {
  backend: Backend;
  /** Worker processes (default 2). */
  workers?: number;
  /** Put a TCP proxy of the test's own between the workers and Redis / PostgreSQL (and RabbitMQ). */
  proxyWorkers?: boolean;
  /** RabbitMQ: every process (API and workers) reaches the broker through a proxy of the test's own. */
  proxyBroker?: boolean;
  env?: Record<string, string>;
}

/**
 * One fault scenario's world, as users run it: a PostgreSQL cluster and a redis-server of its own
 * (never the machine's), an API process without a worker, worker processes, clients over HTTP.
 */
export class Scenario {
  readonly deployment: Deployment;
  api!: ApiProcess;
  readonly workers: WorkerProcess[] = [];
  readonly startedAt = Date.now();

  readonly name: string;
  readonly opts: ScenarioOptions;
  readonly pg: OwnPostgres;
  readonly redis: OwnRedis;
  readonly logDir: string;
  readonly redisProxy?: TcpProxy;
  readonly pgProxy?: TcpProxy;
  readonly amqpProxy?: TcpProxy;
  private constructor(
    name: string,
    opts: ScenarioOptions,
    pg: OwnPostgres,
    redis: OwnRedis,
    logDir: string,
    redisProxy?: TcpProxy,
    pgProxy?: TcpProxy,
    amqpProxy?: TcpProxy) {
    this.name = name;
    this.opts = opts;
    this.pg = pg;
    this.redis = redis;
    this.logDir = logDir;
    this.redisProxy = redisProxy;
    this.pgProxy = pgProxy;
    this.amqpProxy = amqpProxy;
    const amqpPort = opts.proxyBroker && amqpProxy ? amqpProxy.port : SHARED_AMQP_PORT;
    this.deployment = Deployment.create(
      {
        ...FAULT_ENV,
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        AMQP_URL: `amqp://127.0.0.1:${amqpPort}`,
        QUEUE_BACKEND: opts.backend,
        ...opts.env,
      },
      logDir,
    );
  }

  static async start(name: string, opts: ScenarioOptions): Promise<Scenario> {
    const logDir = join(tmpdir(), 'jobgraph-faults', `${name.replace(/\W+/g, '-')}-${opts.backend}-${Date.now()}`);
    await mkdir(logDir, { recursive: true });
    const [postgres, redis] = await Promise.all([OwnPostgres.start(), OwnRedis.start()]);
    const redisProxy = opts.proxyWorkers ? await TcpProxy.start(redis.port) : undefined;
    const pgProxy = opts.proxyWorkers ? await TcpProxy.start(postgres.port) : undefined;
    const amqpProxy =
      opts.backend === 'rabbitmq' && (opts.proxyWorkers || opts.proxyBroker) ? await TcpProxy.start(SHARED_AMQP_PORT) : undefined;
    const scenario = new Scenario(name, opts, postgres, redis, logDir, redisProxy, pgProxy, amqpProxy);
    try {
      scenario.api = await scenario.deployment.startApi();
      for (let i = 0; i < (opts.workers ?? 2); i++) await scenario.startWorker();
    } catch (error) {
      await scenario.stop();
      throw error;
    }
    return scenario;
  }

  /** A worker process; through the proxies when the scenario has them. */
  async startWorker(): Promise<WorkerProcess> {
    const viaProxy = this.redisProxy && this.pgProxy
      ? {
          REDIS_URL: `redis://127.0.0.1:${this.redisProxy.port}`,
          DATABASE_URL: `postgres://postgres@127.0.0.1:${this.pgProxy.port}/postgres`,
          ...(this.amqpProxy ? { AMQP_URL: `amqp://127.0.0.1:${this.amqpProxy.port}` } : {}),
        }
      : {};
    const worker = await this.deployment.startWorker(viaProxy);
    this.workers.push(worker);
    return worker;
  }

  /** HTTP clients enqueueing countWords jobs at the API, whichever API process is current. */
  load(opts: Partial<LoadOptions> & { total: number }): Load {
    return startLoad({ clients: 20, url: () => this.api.url, ...opts });
  }

  /**
   * Waits for every accepted job, judges the ledger, records the row and asserts what the suite
   * promises: nothing accepted lost, nothing finished twice, nothing left RUNNING.
   */
  async finish(
    accepted: Iterable<string>,
    opts: { timeoutMs?: number; faultEndedAt?: number; notes?: string[]; allowEmpty?: boolean } = {},
  ): Promise<Verdict & { recoveryMs: number | null; longestWaitMs: number | null }> {
    const ids = [...accepted];
    const verdict = await verifyLedger(this.pg.url, ids, { timeoutMs: opts.timeoutMs ?? 90_000 });
    const times = await this.#times(ids, opts.faultEndedAt);
    const logs = [this.api.logPath, ...this.workers.map((w) => w.logPath)];
    const deadlocks = await countDeadlockLogs(logs);
    const notes = [...(opts.notes ?? [])];
    if (deadlocks > 0) notes.push(`${deadlocks} deadlock log line(s), each statement run again`);
    const reasons = Object.entries(verdict.reasons).map(([code, n]) => `${code} ${n}`);
    if (reasons.length > 0) notes.push(`retried attempts: ${reasons.join(', ')}`);
    if (verdict.lost > 0) notes.push(`not completed: ${JSON.stringify(verdict.statuses)}`);
    recordRow({
      scenario: this.name,
      backend: this.opts.backend,
      accepted: verdict.accepted,
      completed: verdict.completed,
      lost: verdict.lost,
      duplicateTerminal: verdict.duplicateTerminal,
      longestRecoveryMs: times.recoveryMs,
      longestWaitMs: times.longestWaitMs,
      notes: notes.join('; '),
    });
    const summary = { scenario: this.name, backend: this.opts.backend, ...verdict, ...times, logs: this.logDir };
    console.log(JSON.stringify(summary));
    if (!opts.allowEmpty) expect(verdict.accepted).toBeGreaterThan(0);
    expect(verdict.lost, `lost jobs, e.g. ${verdict.lostSample.join(', ')} (logs in ${this.logDir})`).toBe(0);
    expect(verdict.duplicateTerminal).toBe(0);
    expect(verdict.completedTwice).toBe(0);
    expect(verdict.stuckRunning).toBe(0);
    return { ...verdict, ...times };
  }

  /**
   * From the ledger: how long after `faultEndedAt` the last job accepted before it completed, and
   * the longest any job took from acceptance to completion.
   */
  async #times(ids: string[], faultEndedAt?: number): Promise<{ recoveryMs: number | null; longestWaitMs: number | null }> {
    const client = new pg.Client({ connectionString: this.pg.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ wait: number | null; last: Date | null }>(
        `SELECT max(extract(epoch FROM "finishedAt" - "createdAt") * 1000)::float8 AS wait,
                max("finishedAt") FILTER (WHERE "createdAt" <= $2::timestamptz) AS last
         FROM "Job" WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'`,
        [ids, new Date(faultEndedAt ?? 0)],
      );
      const last = rows[0]?.last;
      const recoveryMs = faultEndedAt && last ? Math.max(0, last.getTime() - faultEndedAt) : null;
      return { recoveryMs, longestWaitMs: rows[0]?.wait === null || rows[0]?.wait === undefined ? null : Math.round(rows[0].wait) };
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    await this.deployment.stopAll();
    await Promise.all([this.redisProxy?.close(), this.pgProxy?.close(), this.amqpProxy?.close()]);
    if (this.opts.backend === 'rabbitmq') await this.#deleteBrokerQueue().catch(() => {});
    await Promise.all([this.pg.destroy(), this.redis.destroy()]);
  }

  /** The scenario's queue lives on the machine's RabbitMQ: it goes with the scenario. */
  async #deleteBrokerQueue(): Promise<void> {
    const client = new pg.Client({ connectionString: this.pg.url });
    await client.connect();
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM "LedgerIdentity"`).finally(() => client.end());
    if (!rows[0]) return;
    const connection = await amqp.connect(`amqp://127.0.0.1:${SHARED_AMQP_PORT}`);
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(scopedQueueName(this.deployment.env.QUEUE_NAME!, rows[0].id));
    } finally {
      await connection.close();
    }
  }
}

/**
 * For a describe block: a function that starts the test's scenario, which is stopped after the
 * test whatever happened in it.
 */
export function scenarioPerTest(): (name: string, opts: ScenarioOptions) => Promise<Scenario> {
  let current: Scenario | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  return async (name, opts) => (current = await Scenario.start(name, opts));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
