/**
 * The BullMQ adapter against real Redis (REDIS_URL, default redis://127.0.0.1:6379): the
 * queue-contract suite, then what only BullMQ does. Every test uses its own queue name and removes
 * its keys afterwards; the Redis-down tests run their own redis-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBullmqAdapter, type BullmqAdapterOptions } from '../../src/adapters/bullmq.ts';
import { QueueRefusedError } from '../../src/adapters/errors.ts';
import type { QueueAdapter } from '../../src/adapters/types.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { testQueueAdapter } from './queue-contract.ts';
import { waitUntil } from '../helpers/wait.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'jobgraph';
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

testQueueAdapter(
  'bullmq',
  (queue) => ({ adapter: createBullmqAdapter({ redisUrl: REDIS_URL, queueName: queue, logger }), cleanup: () => removeKeys(queue) }),
  {
    capabilities: { durable: false, deduplicates: true, remove: true, maxDelayMs: Infinity, priorityLevels: 2001, shared: true },
    service: {
      port: Number(new URL(REDIS_URL).port || 6379),
      through: (queue, port) => {
        const url = new URL(REDIS_URL);
        url.port = String(port);
        return { adapter: createBullmqAdapter({ redisUrl: url.toString(), queueName: queue, logger }), cleanup: () => removeKeys(queue) };
      },
    },
  },
);

// ── BullMQ only: Redis outages, crashed consumers, stuck workers ─────────────────

const opened: QueueAdapter[] = [];
/** Queues on the shared Redis to remove after each test (a test's own redis-server dies with it). */
const queues: string[] = [];
const children: ChildProcess[] = [];

function uniqueName(label: string): string {
  return `jgtest-${label}-${randomUUID().slice(0, 8)}`;
}

function adapterFor(name: string, extra: Partial<BullmqAdapterOptions> = {}): QueueAdapter {
  const redisUrl = extra.redisUrl ?? REDIS_URL;
  if (redisUrl === REDIS_URL && !queues.includes(name)) queues.push(name);
  const adapter = createBullmqAdapter({ redisUrl, queueName: name, logger, ...extra });
  opened.push(adapter);
  return adapter;
}

function newAdapter(label: string, extra: Partial<BullmqAdapterOptions> = {}) {
  const name = uniqueName(label);
  return { name, adapter: adapterFor(name, extra) };
}

/** Removes a queue and anything else under its name (e.g. probe queues of killed processes). */
async function removeKeys(name: string): Promise<void> {
  const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const queue = new Queue(name, { connection: conn, prefix: PREFIX, skipMetasUpdate: true });
    await queue.obliterate({ force: true });
    await queue.close();
    let cursor = '0';
    do {
      const [next, keys] = await conn.scan(cursor, 'MATCH', `${PREFIX}:${name}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await conn.del(...keys);
    } while (cursor !== '0');
  } finally {
    conn.disconnect();
  }
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(opened.splice(0).map((a) => a.close()));
  for (const name of queues.splice(0)) await removeKeys(name);
});


async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  children.push(child);
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await waitUntil('redis-server to start', async () => {
    try {
      if (probe.status !== 'ready') await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      probe.disconnect();
      return false;
    }
  });
  probe.disconnect();
  return child;
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

describe('BullMQ adapter', () => {
  it('probe once consuming checks that this process’s worker takes jobs', async () => {
    const { adapter } = newAdapter('probe');
    await adapter.consume(async () => {}, 2);
    const after = await adapter.probe();
    expect(after.ok, after.detail).toBe(true);
    expect(after.detail).toMatch(/worker consumes/);
  });

  it('sends the dispatches of one tick to Redis as one addBulk, each key once', async () => {
    const { adapter } = newAdapter('bulk');
    await adapter.probe(); // connected, so the enqueues below all reach the queue in one tick
    const addBulk = vi.spyOn(Queue.prototype, 'addBulk');
    const add = vi.spyOn(Queue.prototype, 'add');
    const dispatches = Array.from({ length: 100 }, (_, i) => ({ jobId: randomUUID(), key: `k${i}`, task: 'test' }));
    // Ten keys twice in the same batch: BullMQ's add script sees the first and adds nothing.
    const refs = await Promise.all([...dispatches, ...dispatches.slice(0, 10)].map((d) => adapter.enqueue(d)));
    expect(new Set(refs).size).toBe(100);
    expect(add).not.toHaveBeenCalled();
    expect(addBulk.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(addBulk.mock.calls.length).toBeLessThanOrEqual(2);
    expect(await adapter.counts()).toMatchObject({ waiting: 100, delayed: 0 });
  });

  it('probe against a closed port answers ok:false quickly; enqueue rejects', async () => {
    const port = await freePort();
    const { adapter } = newAdapter('closed', { redisUrl: `redis://127.0.0.1:${port}` });
    await sleep(200); // let the first connection attempt fail

    const started = Date.now();
    const result = await adapter.probe();
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/not connected/);
    expect(Date.now() - started).toBeLessThan(1_000);

    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'j', task: 't' })).rejects.toThrow(/not connected/);
    await expect(adapter.counts()).rejects.toThrow(/not connected/);
  });

  it('runs equal priorities first in, first out', async () => {
    const { adapter } = newAdapter('fifo');
    const jobs: [string, number | undefined][] = [
      ['zero-a', 0],
      ['default', undefined],
      ['zero-b', 0],
      ['neg-a', -5],
      ['neg-b', -5],
    ];
    for (const [jobId, priority] of jobs) await adapter.enqueue({ key: randomUUID(), jobId, task: 't', priority });
    const order: string[] = [];
    await adapter.consume(async (jobId) => void order.push(jobId), 1);
    await waitUntil('all deliveries', () => order.length === jobs.length);
    expect(order).toEqual(['zero-a', 'default', 'zero-b', 'neg-a', 'neg-b']);
  });

  it('refuses a priority that is not an integer', async () => {
    const { adapter } = newAdapter('badprio');
    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'x', task: 't', priority: 1.5 })).rejects.toBeInstanceOf(QueueRefusedError);
  });

  it('nothing works after close', async () => {
    const { adapter } = newAdapter('close');
    await adapter.consume(async () => {}, 1);
    await adapter.enqueue({ key: randomUUID(), jobId: 'x', task: 't' });
    await adapter.close();
    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'y', task: 't' })).rejects.toThrow(/closed/);
    await expect(adapter.consume(async () => {}, 1)).rejects.toThrow(/closed/);
    expect((await adapter.probe()).ok).toBe(false);
  });

  it('survives Redis going away: enqueue rejects fast, then everything works again after a restart', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const { adapter } = newAdapter('restart', { redisUrl });
    const got: string[] = [];
    await adapter.consume(async (jobId) => void got.push(jobId), 2);
    await adapter.enqueue({ key: randomUUID(), jobId: 'before', task: 't' });
    await waitUntil('delivery before the outage', () => got.includes('before'));

    await killHard(redis);
    await sleep(100);
    const started = Date.now();
    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'during', task: 't' })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
    const down = await adapter.probe();
    expect(down.ok).toBe(false);
    expect(down.latencyMs).toBeLessThan(5_000);

    await sleep(1_500); // let the workers notice and start reconnecting
    redis = await startRedis(port);
    const restartedAt = Date.now();
    await waitUntil('probe ok after restart', async () => (await adapter.probe()).ok, 30_000);
    const probeOkMs = Date.now() - restartedAt;

    await adapter.enqueue({ key: randomUUID(), jobId: 'after', task: 't' });
    await waitUntil('delivery after the restart', () => got.includes('after'), 20_000);
    console.log(`bullmq restart: probe ok ${probeOkMs} ms after restart, job delivered ${Date.now() - restartedAt} ms after`);
    expect(got).toEqual(['before', 'after']);

    // Shutting down while Redis is away must not hang either.
    await killHard(redis);
    const closing = Date.now();
    await adapter.close();
    expect(Date.now() - closing).toBeLessThan(5_000);
  });

  it('redelivers the job of a consumer that was SIGKILLed', async () => {
    const name = uniqueName('crash');
    const tuning = { lockDurationMs: 2_000, stalledIntervalMs: 1_000 };
    const producer = adapterFor(name, tuning);

    // node --import tsx rather than the tsx binary: that one runs the script in a grandchild, which
    // a SIGKILL of the tsx process would leave running.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/bullmq-crash-consumer.ts'], {
      env: { ...process.env, REDIS_URL, QUEUE_NAME: name, LOCK_MS: '2000', STALLED_MS: '1000' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil('the child to consume', () => output.includes('READY'), 20_000);

    await producer.enqueue({ key: randomUUID(), jobId: 'crash-job', task: 't' });
    await waitUntil('the child to take the job', () => output.includes('TOOK crash-job'));
    await killHard(child);
    const killedAt = Date.now();

    const got: string[] = [];
    const consumer = adapterFor(name, tuning);
    await consumer.consume(async (jobId) => void got.push(jobId), 1);
    await waitUntil('redelivery', () => got.includes('crash-job'), 20_000);
    console.log(`bullmq crash: job redelivered ${Date.now() - killedAt} ms after SIGKILL`);
    expect(got).toEqual(['crash-job']);
  });

  it('replaces a worker that silently stopped fetching (white-box)', async () => {
    const { name, adapter } = newAdapter('stuck', { stuckAfterMs: 1_000 });
    // Wedge the first main worker of this queue: its fetch never returns, as after a bad reconnect.
    type Fetch = (this: Worker, ...args: unknown[]) => Promise<unknown>;
    const proto = Worker.prototype as unknown as { _getNextJob: Fetch };
    const original = proto._getNextJob;
    let victim: Worker | undefined;
    vi.spyOn(proto, '_getNextJob').mockImplementation(function (this: Worker, ...args: unknown[]) {
      if (this.name === name && (victim === undefined || victim === this)) {
        // eslint-disable-next-line @typescript-eslint/no-this-alias -- remembers which Worker instance the spy stalls
        victim = this;
        return new Promise(() => {});
      }
      return original.apply(this, args);
    });

    const got: string[] = [];
    await adapter.consume(async (jobId) => void got.push(jobId), 2);
    await adapter.enqueue({ key: randomUUID(), jobId: 'stranded', task: 't' });
    await sleep(300);
    expect(got).toEqual([]);

    let sawStuck = '';
    await waitUntil(
      'the probe to report the stuck worker',
      async () => {
        const result = await adapter.probe();
        if (!result.ok) sawStuck = result.detail;
        return !result.ok;
      },
      10_000,
    );
    expect(sawStuck).toMatch(/worker not consuming: 1 job\(s\) ready/);
    await waitUntil('the replacement worker to deliver', () => got.includes('stranded'), 10_000);
    await waitUntil('probe ok again', async () => (await adapter.probe()).ok, 10_000);
  });
});
