/**
 * The BullMQ adapter against real Redis (REDIS_URL, default redis://127.0.0.1:6379). Every test uses
 * its own queue name and removes its keys afterwards; the Redis-down test runs its own redis-server.
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
import type { QueueAdapter } from '../../src/adapters/types.ts';
import { createLogger } from '../../src/lib/logger.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'jobgraph';
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

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

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

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
  await waitFor('redis-server to start', async () => {
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
  it('probes ok before and after consume', async () => {
    const { adapter } = newAdapter('probe');
    await waitFor('first connection', async () => (await adapter.probe()).ok);

    const before = await adapter.probe();
    expect(before).toMatchObject({ ok: true });
    expect(before.latencyMs).toBeLessThan(5_000);

    await adapter.consume(async () => {}, 2);
    const after = await adapter.probe();
    expect(after.ok, after.detail).toBe(true);
    expect(after.detail).toMatch(/worker consumes/);
    expect(after.latencyMs).toBeLessThan(5_000);
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

  it('delivers an enqueued job id to the handler', async () => {
    const { adapter } = newAdapter('deliver');
    const got: string[] = [];
    await adapter.consume(async (jobId) => void got.push(jobId), 1);

    const ref = await adapter.enqueue({ key: randomUUID(), jobId: 'job-1', task: 'demo.echo' });
    expect(ref).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor('delivery', () => got.length === 1);
    expect(got).toEqual(['job-1']);
  });

  it('respects delay', async () => {
    const { adapter } = newAdapter('delay');
    const deliveredAt: number[] = [];
    await adapter.consume(async () => void deliveredAt.push(Date.now()), 1);

    const delayMs = 1_200;
    const enqueuedAt = Date.now();
    await adapter.enqueue({ key: randomUUID(), jobId: 'late', task: 't', delayMs });
    await waitFor('delayed delivery', () => deliveredAt.length === 1, 10_000);
    const elapsed = deliveredAt[0]! - enqueuedAt;
    expect(elapsed).toBeGreaterThanOrEqual(delayMs);
    expect(elapsed).toBeLessThan(delayMs + 3_000);
  });

  it('delivers higher priority first, across positive, zero and negative priorities', async () => {
    const { adapter } = newAdapter('priority');
    // Low first, then high: order of enqueue must not matter.
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
    for (const [jobId, priority] of jobs) await adapter.enqueue({ key: jobId, jobId, task: 't', priority });

    const order: string[] = [];
    await adapter.consume(async (jobId) => void order.push(jobId), 1);
    await waitFor('all deliveries', () => order.length === jobs.length);
    expect(order).toEqual(['highest', 'pos', 'one', 'zero-a', 'default', 'zero-b', 'neg', 'lowest']);
  });

  it('rejects priorities outside -1000..1000', async () => {
    const { adapter } = newAdapter('badprio');
    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'x', task: 't', priority: 1001 })).rejects.toThrow(RangeError);
    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'x', task: 't', priority: 1.5 })).rejects.toThrow(RangeError);
  });

  it('remove() takes a delayed job out before delivery', async () => {
    const { adapter } = newAdapter('remove');
    const got: string[] = [];
    const ref = await adapter.enqueue({ key: randomUUID(), jobId: 'doomed', task: 't', delayMs: 800 });
    const waitingRef = await adapter.enqueue({ key: randomUUID(), jobId: 'waiting', task: 't' });

    expect(await adapter.remove(ref)).toBe(true);
    expect(await adapter.remove(ref)).toBe(false); // already gone
    expect(await adapter.remove(randomUUID())).toBe(false); // never there
    expect(await adapter.remove(waitingRef)).toBe(true); // waiting (prioritized) jobs too

    await adapter.consume(async (jobId) => void got.push(jobId), 1);
    await adapter.enqueue({ key: randomUUID(), jobId: 'kept', task: 't', delayMs: 900 });
    await waitFor('the kept job', () => got.includes('kept'));
    expect(got).toEqual(['kept']);
  });

  it('remove() answers false for a job being handled', async () => {
    const { adapter } = newAdapter('remove-active');
    const release = deferred();
    const started = deferred();
    await adapter.consume(async () => {
      started.resolve();
      await release.promise;
    }, 1);
    const ref = await adapter.enqueue({ key: randomUUID(), jobId: 'busy', task: 't' });
    await started.promise;
    expect(await adapter.remove(ref)).toBe(false);
    release.resolve();
  });

  it('holds the concurrency limit', async () => {
    const { adapter } = newAdapter('concurrency');
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    await adapter.consume(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(150);
      running--;
      done++;
    }, 3);
    await Promise.all(Array.from({ length: 10 }, (_, i) => adapter.enqueue({ key: randomUUID(), jobId: `c${i}`, task: 't' })));
    await waitFor('10 jobs', () => done === 10);
    expect(maxRunning).toBe(3);
  });

  it('delivers a burst of 1000 jobs', async () => {
    const { adapter } = newAdapter('burst');
    const got = new Set<string>();
    await adapter.consume(async (jobId) => void got.add(jobId), 20);

    const started = performance.now();
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => adapter.enqueue({ key: randomUUID(), jobId: `b${batch * 100 + i}`, task: 't' })),
      );
    }
    const enqueuedMs = performance.now() - started;
    await waitFor('1000 deliveries', () => got.size === 1000, 30_000);
    const totalMs = performance.now() - started;
    console.log(`bullmq burst: 1000 jobs enqueued in ${enqueuedMs.toFixed(0)} ms, all delivered after ${totalMs.toFixed(0)} ms`);
    expect(got.size).toBe(1000);
  });

  it('stopConsuming waits for in-flight handlers; producing keeps working', async () => {
    const { adapter } = newAdapter('stop');
    const release = deferred();
    const started = deferred();
    const got: string[] = [];
    let finished = false;
    await adapter.consume(async (jobId) => {
      got.push(jobId);
      started.resolve();
      await release.promise;
      finished = true;
    }, 2);
    await adapter.enqueue({ key: randomUUID(), jobId: 'inflight', task: 't' });
    await started.promise;

    let stopped = false;
    const stopping = adapter.stopConsuming().then(() => (stopped = true));
    await sleep(300);
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(finished).toBe(true);

    await adapter.enqueue({ key: randomUUID(), jobId: 'after-stop', task: 't' });
    await sleep(300);
    expect(got).toEqual(['inflight']);
    expect(await adapter.counts()).toEqual({ waiting: 1, delayed: 0, active: 0 });
    expect((await adapter.probe()).ok).toBe(true);
  });

  it('close twice is harmless; nothing works after close', async () => {
    const { adapter } = newAdapter('close');
    await adapter.consume(async () => {}, 1);
    await adapter.enqueue({ key: randomUUID(), jobId: 'x', task: 't' });
    await adapter.close();
    await adapter.close();
    await expect(adapter.enqueue({ key: randomUUID(), jobId: 'y', task: 't' })).rejects.toThrow(/closed/);
    await expect(adapter.consume(async () => {}, 1)).rejects.toThrow(/closed/);
    expect((await adapter.probe()).ok).toBe(false);
  });

  it('consume twice is an error', async () => {
    const { adapter } = newAdapter('twice');
    await adapter.consume(async () => {}, 1);
    await expect(adapter.consume(async () => {}, 1)).rejects.toThrow(/already/);
  });

  it('counts waiting, delayed and active jobs', async () => {
    const { adapter } = newAdapter('counts');
    await waitFor('connection', async () => (await adapter.probe()).ok);
    expect(await adapter.counts()).toEqual({ waiting: 0, delayed: 0, active: 0 });

    await adapter.enqueue({ key: randomUUID(), jobId: 'w1', task: 't' });
    await adapter.enqueue({ key: randomUUID(), jobId: 'w2', task: 't', priority: 7 });
    await adapter.enqueue({ key: randomUUID(), jobId: 'd1', task: 't', delayMs: 60_000 });
    expect(await adapter.counts()).toEqual({ waiting: 2, delayed: 1, active: 0 });

    const release = deferred();
    await adapter.consume(async () => release.promise, 1);
    await waitFor('one active', async () => (await adapter.counts()).active === 1);
    expect(await adapter.counts()).toEqual({ waiting: 1, delayed: 1, active: 1 });
    release.resolve();
    await waitFor('drained', async () => {
      const c = await adapter.counts();
      return c.waiting === 0 && c.active === 0;
    });
  });

  it('survives Redis going away: enqueue rejects fast, then everything works again after a restart', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const redisUrl = `redis://127.0.0.1:${port}`;
    const { adapter } = newAdapter('restart', { redisUrl });
    const got: string[] = [];
    await adapter.consume(async (jobId) => void got.push(jobId), 2);
    await adapter.enqueue({ key: randomUUID(), jobId: 'before', task: 't' });
    await waitFor('delivery before the outage', () => got.includes('before'));

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
    await waitFor('probe ok after restart', async () => (await adapter.probe()).ok, 30_000);
    const probeOkMs = Date.now() - restartedAt;

    await adapter.enqueue({ key: randomUUID(), jobId: 'after', task: 't' });
    await waitFor('delivery after the restart', () => got.includes('after'), 20_000);
    console.log(`bullmq restart: probe ok ${probeOkMs} ms after restart, job delivered ${Date.now() - restartedAt} ms after`);
    expect(got).toEqual(['before', 'after']);

    // Shutting down while Redis is away must not hang either.
    await killHard(redis);
    const closing = Date.now();
    await adapter.close();
    expect(Date.now() - closing).toBeLessThan(5_000);
  });

  it('starts while Redis is down and consumes once it is up', async () => {
    const port = await freePort();
    const { adapter } = newAdapter('late-redis', { redisUrl: `redis://127.0.0.1:${port}` });
    const got: string[] = [];
    const consumeStarted = Date.now();
    await adapter.consume(async (jobId) => void got.push(jobId), 1); // returns though Redis is down
    expect(Date.now() - consumeStarted).toBeLessThan(5_000);
    expect((await adapter.probe()).ok).toBe(false);

    const redis = await startRedis(port);
    await waitFor('probe ok', async () => (await adapter.probe()).ok, 15_000);
    await adapter.enqueue({ key: randomUUID(), jobId: 'late', task: 't' });
    await waitFor('delivery', () => got.includes('late'));
    await adapter.close();
    await killHard(redis);
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
    await waitFor('the child to consume', () => output.includes('READY'), 20_000);

    await producer.enqueue({ key: randomUUID(), jobId: 'crash-job', task: 't' });
    await waitFor('the child to take the job', () => output.includes('TOOK crash-job'));
    await killHard(child);
    const killedAt = Date.now();

    const got: string[] = [];
    const consumer = adapterFor(name, tuning);
    await consumer.consume(async (jobId) => void got.push(jobId), 1);
    await waitFor('redelivery', () => got.includes('crash-job'), 20_000);
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
    await waitFor(
      'the probe to report the stuck worker',
      async () => {
        const result = await adapter.probe();
        if (!result.ok) sawStuck = result.detail;
        return !result.ok;
      },
      10_000,
    );
    expect(sawStuck).toMatch(/worker not consuming: 1 job\(s\) ready/);
    await waitFor('the replacement worker to deliver', () => got.includes('stranded'), 10_000);
    await waitFor('probe ok again', async () => (await adapter.probe()).ok, 10_000);
  });
});
