import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config.ts';
import type { JobChange } from '../../src/events/messages.ts';
import type { Job } from '../../src/jobs/ledger/index.ts';
import { JobSystem, type JobSystemOptions } from '../../src/jobs/system.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { testWorkflows } from '../fixtures/workflows.ts';
import { testLimits } from '../fixtures/limits.ts';
import { createTestRegistry } from '../fixtures/tasks.ts';
import { withTimeout } from '../../src/lib/timeouts.ts';
import { waitFor } from './wait.ts';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A short unique name for queues, schemas and key prefixes of one test. */
export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;

/** Test settings: short retries, heartbeats and intervals so failures show in seconds. */
export function testEnv(overrides: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    REDIS_URL,
    RETRY_BASE_MS: '100',
    HEARTBEAT_MS: '200',
    STALE_AFTER_MS: '3000',
    DISPATCH_INTERVAL_MS: '100',
    SHUTDOWN_TIMEOUT_MS: '2000',
    WORKER_CONCURRENCY: '4',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
}

/** Starts systems and child workers for one test file, and stops them all in `stopAll`. */
export class Harness {
  readonly #systems: JobSystem[] = [];
  readonly #children = new Set<ChildProcess>();

  readonly env: Record<string, string | undefined>;
  constructor(env: Record<string, string | undefined>) {
    this.env = env;
  }

  config(overrides: Record<string, string | undefined> = {}): Config {
    return loadConfig({ ...this.env, ...overrides });
  }

  async start(overrides: Record<string, string | undefined> = {}, opts: Partial<JobSystemOptions> = {}): Promise<JobSystem> {
    const config = this.config(overrides);
    const system = await JobSystem.start({
      config,
      logger: createLogger(config.LOG_LEVEL),
      registry: createTestRegistry(),
      workflows: testWorkflows,
      limits: testLimits,
      tuning: { bullmq: { lockDurationMs: 2_000, stalledIntervalMs: 1_000 }, pgboss: { heartbeatSeconds: 10 } },
      ...opts,
    });
    this.#systems.push(system);
    return system;
  }

  /** A worker in its own process (test/fixtures/worker.ts); resolves once it consumes. */
  async spawnWorker(overrides: Record<string, string | undefined> = {}): Promise<{ child: ChildProcess; workerId: string }> {
    const child = spawnTs('../fixtures/worker.ts', { ...this.env, ...overrides });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    let output = '';
    const ready = new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /ready (\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready: ${output}`)));
    });
    return { child, workerId: await withTimeout(ready, 30_000, 'worker start') };
  }

  async stop(system: JobSystem): Promise<void> {
    await system.stop();
  }

  async stopAll(): Promise<void> {
    for (const child of this.#children) {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => {});
    }
    await Promise.all(this.#systems.map((system) => system.stop()));
  }
}

/**
 * Runs a TypeScript file of this repo in a child Node process with tsx as a loader: one process,
 * so that SIGKILL really kills the worker (the tsx CLI would leave its node child running).
 */
export function spawnTs(relativeToHelpers: string, env: Record<string, string | undefined>): ChildProcess {
  const script = fileURLToPath(new URL(relativeToHelpers, import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const childEnv = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
  return spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Waits until a job is in a terminal state (or `status`), reading the ledger. */
export function waitForJob(system: JobSystem, jobId: string, status?: Job['status'], timeoutMs = 20_000): Promise<Job> {
  return waitFor(
    async () => (await system.getJob(jobId))!,
    (job) => (status ? job.status === status : TERMINAL.has(job.status)),
    timeoutMs,
    `job ${jobId} to be ${status ?? 'finished'}`,
  ) as Promise<Job>;
}

/**
 * Records the bus messages about `jobId` (or all) this process sees. Resolves once the recording is
 * live: a remote bus (Redis pub/sub) subscribes to a topic when its first listener comes, and a
 * message published before that subscription lands is not delivered. A sentinel change is
 * published until it comes back.
 */
export async function recordChanges(system: JobSystem, jobId?: string): Promise<{ changes: JobChange[]; stop: () => void }> {
  const changes: JobChange[] = [];
  const sentinel = `sentinel-${randomBytes(6).toString('hex')}`;
  let live = false;
  const stop = system.bus.onJobChange((change) => {
    if (change.jobId === sentinel) live = true;
    else if (!jobId || change.jobId === jobId) changes.push(change);
  });
  const deadline = Date.now() + 15_000;
  while (!live) {
    if (Date.now() > deadline) throw new Error('the bus did not echo a job change within 15 s');
    system.bus.publishJobChange({
      jobId: sentinel, type: 'sentinel', phase: 'PLANNING', seq: 0, at: new Date().toISOString(), kind: 'LOG',
      status: 'QUEUED', progress: 0, message: null, attempt: 0, createdBy: null, runId: null,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { changes, stop };
}

export { waitFor, withTimeout };

/**
 * For a describe block: a test database and a job system on it (inline queue unless `env` says
 * otherwise), started before its tests and stopped after. Read `system()` inside the tests.
 */
export function systemPerFile(env: Record<string, string | undefined> = {}): { system: () => JobSystem } {
  let database: TestDatabase | undefined;
  let harness: Harness | undefined;
  let system: JobSystem | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('file'), ...env }));
    system = await harness.start();
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });
  return {
    system: () => {
      if (!system) throw new Error('the job system is not started yet (read it inside a test)');
      return system;
    },
  };
}
