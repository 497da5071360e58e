/**
 * The RabbitMQ adapter against the real broker (AMQP_URL, default amqp://guest:guest@127.0.0.1:5672):
 * the queue-contract suite, then what only RabbitMQ does. Every test uses its own queue, deleted
 * afterwards; network faults go through a TcpProxy of the test's own, never by touching the shared
 * broker.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'amqplib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueRefusedError, QueueUnavailableError } from '../../src/adapters/errors.ts';
import { createRabbitmqAdapter, type RabbitmqAdapterOptions } from '../../src/adapters/rabbitmq.ts';
import type { QueueAdapter } from '../../src/adapters/types.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { freePort } from '../helpers/ports.ts';
import { TcpProxy } from '../faults/support/proxy.ts';
import { testQueueAdapter } from './queue-contract.ts';
import { waitUntil } from '../helpers/wait.ts';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BROKER_PORT = Number(new URL(AMQP_URL).port || 5672);
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

const CAPABILITIES = { durable: true, deduplicates: false, remove: false, maxDelayMs: 0, priorityLevels: 10, shared: true };

testQueueAdapter(
  'rabbitmq',
  (queue) => ({ adapter: createRabbitmqAdapter({ url: AMQP_URL, queueName: queue, logger }), cleanup: () => deleteQueues([queue]) }),
  {
    capabilities: CAPABILITIES,
    service: {
      port: BROKER_PORT,
      through: (queue, port) => {
        const url = new URL(AMQP_URL);
        url.port = String(port);
        return { adapter: createRabbitmqAdapter({ url: url.toString(), queueName: queue, logger }), cleanup: () => deleteQueues([queue]) };
      },
    },
  },
);

// ── RabbitMQ only: message format, broker-side priorities, lost connections, outages ──────────

const opened: QueueAdapter[] = [];
const queues: string[] = [];
const proxies: TcpProxy[] = [];
/** Handlers left blocked by a test, let go before its adapters close. */
const blocked: (() => void)[] = [];

afterEach(async () => {
  for (const release of blocked.splice(0)) release();
  await Promise.all(opened.splice(0).map((adapter) => adapter.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await deleteQueues(queues.splice(0));
});

async function deleteQueues(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = await connect(AMQP_URL);
  try {
    const channel = await admin.createChannel();
    for (const name of names) await channel.deleteQueue(name);
  } finally {
    await admin.close();
  }
}

function uniqueQueue(label: string): string {
  const name = `jgtest-${label}-${randomUUID().slice(0, 8)}`;
  queues.push(name);
  return name;
}

function adapter(queueName: string, extra: Partial<RabbitmqAdapterOptions> = {}): QueueAdapter {
  const created = createRabbitmqAdapter({ url: AMQP_URL, queueName, logger, reconnectDelayMs: 100, reconnectMaxDelayMs: 500, ...extra });
  opened.push(created);
  return created;
}

async function proxy(): Promise<TcpProxy> {
  const started = await TcpProxy.start(BROKER_PORT);
  proxies.push(started);
  return started;
}

function viaProxy(p: TcpProxy): string {
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(p.port);
  return url.toString();
}


function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A handler that blocks until released (by the test or by afterEach). */
function blocking(): { promise: Promise<void>; release: () => void } {
  const { promise, resolve } = deferred();
  blocked.push(resolve);
  return { promise, release: resolve };
}

/** The rejection of `promise` and how long it took to come. */
async function rejection(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected a rejection');
}

/** A logger whose lines the test reads. */
function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const dispatch = (jobId: string, extra: { priority?: number; delayMs?: number } = {}) => ({ jobId, key: `${jobId}:1`, task: 'test.echo', ...extra });

describe('RabbitMQ adapter', () => {
  it('publishes a persistent JSON message under the dispatch key to a durable priority queue', async () => {
    const queue = uniqueQueue('publish');
    const rabbit = adapter(queue);
    expect(await rabbit.enqueue(dispatch('job-1'))).toBe('job-1:1');
    expect(await rabbit.counts()).toEqual({ waiting: 1, delayed: 0, active: 0 });
    expect(await rabbit.probe()).toMatchObject({ ok: true, detail: `RabbitMQ at 127.0.0.1:${BROKER_PORT} answers (queue ${queue}: 1 ready)` });

    const admin = await connect(AMQP_URL);
    try {
      const channel = await admin.createChannel();
      // Declaring it as the adapter does succeeds only if durable and x-max-priority match.
      await channel.assertQueue(queue, { durable: true, maxPriority: 10 });
      const message = await channel.get(queue, { noAck: true });
      if (!message) throw new Error('no message in the queue');
      expect(JSON.parse(message.content.toString())).toEqual({ jobId: 'job-1', task: 'test.echo' });
      expect(message.properties).toMatchObject({ messageId: 'job-1:1', deliveryMode: 2, contentType: 'application/json', priority: 5 });
    } finally {
      await admin.close();
    }
    // No dedupe in AMQP: the same key twice is two messages.
    await rabbit.enqueue(dispatch('job-1'));
    await rabbit.enqueue(dispatch('job-1'));
    expect((await rabbit.counts()).waiting).toBe(2);
    expect(await rabbit.remove('job-1:1')).toBe(false);
  });

  it('maps priorities onto 10 broker levels: 1000 before 0 before -1000, neighbours may share a level (first in, first out)', async () => {
    const rabbit = adapter(uniqueQueue('priority'));
    await rabbit.enqueue(dispatch('low', { priority: -1000 }));
    await rabbit.enqueue(dispatch('mid', { priority: 0 }));
    await rabbit.enqueue(dispatch('high', { priority: 1000 }));
    await rabbit.enqueue(dispatch('mid2'));
    await rabbit.enqueue(dispatch('high2', { priority: 999 }));
    const order: string[] = [];
    await rabbit.consume(async (jobId) => {
      order.push(jobId);
    }, 1);
    await waitUntil('every delivery', () => order.length === 5);
    expect(order).toEqual(['high', 'high2', 'mid', 'mid2', 'low']);
  });

  it('refuses any delay and a priority that is not a number with QueueRefusedError', async () => {
    const rabbit = adapter(uniqueQueue('refuse'));
    await expect(rabbit.enqueue(dispatch('later', { delayMs: 60_000 }))).rejects.toBeInstanceOf(QueueRefusedError);
    await expect(rabbit.enqueue(dispatch('nan', { priority: Number.NaN }))).rejects.toBeInstanceOf(QueueRefusedError);
    // Refusals leave the broker alone: nothing was published.
    expect((await rabbit.counts()).waiting).toBe(0);
  });

  it('rejects every operation after close(), as unavailable', async () => {
    const rabbit = adapter(uniqueQueue('closed'));
    await rabbit.enqueue(dispatch('before-close'));
    await rabbit.close();
    await expect(rabbit.enqueue(dispatch('after-close'))).rejects.toBeInstanceOf(QueueUnavailableError);
    await expect(rabbit.counts()).rejects.toBeInstanceOf(QueueUnavailableError);
    expect(await rabbit.probe()).toMatchObject({ ok: false, detail: expect.stringContaining('closed') });
  });

  it('redelivers the job of a consumer whose connection died, and the dead handler finishing does no harm', async () => {
    const queue = uniqueQueue('redeliver');
    const cut = await proxy();
    const doomed = adapter(queue, { url: viaProxy(cut) });
    const stuck = blocking();
    const doomedSaw: string[] = [];
    await doomed.consume(async (jobId) => {
      doomedSaw.push(jobId);
      await stuck.promise;
    }, 1);

    const survivor = adapter(queue);
    await survivor.enqueue(dispatch('job-redelivered'));
    await waitUntil('the doomed consumer to take the job', () => doomedSaw.length === 1);

    cut.drop(); // its connection resets; the broker takes the unacked delivery back
    const seen: string[] = [];
    await survivor.consume(async (jobId) => {
      seen.push(jobId);
    }, 1);
    await waitUntil('the redelivery', () => seen.length === 1);
    expect(seen).toEqual(['job-redelivered']);

    // Its handler returns now; its ack has nowhere to go and must be dropped quietly.
    stuck.release();
    await sleep(300);
    expect((await doomed.probe()).ok).toBe(false);
  });

  it('recovers from its queue being deleted: the lost enqueue is refused as unavailable, the consumer comes back', async () => {
    const queue = uniqueQueue('deleted');
    const producer = adapter(queue);
    await producer.enqueue(dispatch('first'));
    const deleteQueue = async () => {
      const admin = await connect(AMQP_URL);
      try {
        await (await admin.createChannel()).deleteQueue(queue);
      } finally {
        await admin.close();
      }
    };

    // Without a consumer: the message has nowhere to go, so it is not reported as enqueued.
    await deleteQueue();
    await expect(producer.enqueue(dispatch('into-nothing'))).rejects.toBeInstanceOf(QueueUnavailableError);
    await waitUntil('the queue to be declared again', async () => (await producer.probe()).ok);
    await producer.enqueue(dispatch('second'));
    expect((await producer.counts()).waiting).toBe(1);

    // With a consumer: the broker cancels it; the adapter reconnects and consumes again.
    const consumer = adapter(queue);
    const seen: string[] = [];
    await consumer.consume(async (jobId) => {
      seen.push(jobId);
    }, 1);
    await waitUntil('the waiting job', () => seen.includes('second'));
    await deleteQueue();
    await waitUntil('the consumer to come back', async () => {
      await producer.enqueue(dispatch(`probe-${randomUUID()}`)).catch(() => {});
      return seen.some((jobId) => jobId.startsWith('probe-'));
    });
    expect((await consumer.probe()).ok).toBe(true);
  });

  it('rejects within a few seconds, and probes not ok, when nothing listens at the broker address; never shows the password', async () => {
    const port = await freePort();
    const rabbit = adapter(uniqueQueue('nobody'), { url: `amqp://guest:s3cret-pw@127.0.0.1:${port}` });
    const { error, ms } = await rejection(rabbit.enqueue(dispatch('nowhere')));
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect(ms).toBeLessThan(6_000);
    expect(String((error as Error).message)).not.toContain('s3cret');

    const started = Date.now();
    const probe = await rabbit.probe();
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(probe.ok).toBe(false);
    expect(probe.detail).toContain(`127.0.0.1:${port}`);
    expect(probe.detail).not.toContain('s3cret');
    await expect(rabbit.counts()).rejects.toBeInstanceOf(QueueUnavailableError);
  });

  it('fails fast while the network is cut, logs the loss once, and reconnects, consumer included, when it heals', async () => {
    const queue = uniqueQueue('heal');
    const cut = await proxy();
    const { logger: recording, lines } = recordingLogger();
    const rabbit = adapter(queue, { url: viaProxy(cut), logger: recording });
    const seen: string[] = [];
    await rabbit.consume(async (jobId) => {
      seen.push(jobId);
    }, 2);
    await rabbit.enqueue(dispatch('before'));
    await waitUntil('the first delivery', () => seen.length === 1);
    expect(await rabbit.probe()).toMatchObject({ ok: true, detail: expect.stringMatching(/answers .*; consuming/) });

    cut.drop();
    await waitUntil('the loss to be noticed', async () => !(await rabbit.probe()).ok);
    const { error, ms } = await rejection(rabbit.enqueue(dispatch('during')));
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect(ms).toBeLessThan(6_000);
    const probe = await rabbit.probe();
    expect(probe).toMatchObject({ ok: false, detail: expect.stringContaining(`127.0.0.1:${cut.port}`) });
    await sleep(1_500); // several reconnect attempts (100 ms doubling to 500 ms)
    expect(cut.stats().dropped).toBeGreaterThan(2);

    cut.pass();
    await waitUntil('enqueue to work again', async () => rabbit.enqueue(dispatch('after')).then(() => true, () => false));
    await waitUntil('the consumer to resume', () => seen.includes('after'));
    expect((await rabbit.probe()).ok).toBe(true);

    const warnings = lines.filter((line) => line.level === 40).map((line) => line.msg);
    expect(warnings).toEqual(['RabbitMQ connection lost; reconnecting']);
    expect(lines.some((line) => line.msg === 'RabbitMQ connection restored')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('guest:guest');
  });

  it('rejects within a few seconds when the broker stops answering on an open connection', async () => {
    const cut = await proxy();
    const rabbit = adapter(uniqueQueue('silent'), { url: viaProxy(cut) });
    await rabbit.enqueue(dispatch('answered'));
    cut.delay(30_000); // the connection stays up, nothing comes back

    const { error, ms } = await rejection(rabbit.enqueue(dispatch('unanswered')));
    expect(error).toBeInstanceOf(QueueUnavailableError);
    expect(ms).toBeGreaterThanOrEqual(4_000);
    expect(ms).toBeLessThan(8_000);

    const started = Date.now();
    expect((await rabbit.probe()).ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});
