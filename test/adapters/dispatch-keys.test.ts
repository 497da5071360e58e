/**
 * The sweep re-sends jobs it cannot trust a queue to hold, so every adapter must enqueue
 * idempotently by dispatch key: a key the queue still holds adds nothing; a key whose entry was
 * delivered and settled can be sent again (or a job lost after its delivery could never come back).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createBullmqAdapter } from '../../src/adapters/bullmq.ts';
import { createInlineAdapter } from '../../src/adapters/inline.ts';
import { createPgbossAdapter } from '../../src/adapters/pgboss.ts';
import type { QueueAdapter } from '../../src/adapters/types.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { REDIS_URL } from '../helpers/system.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const suffix = randomBytes(4).toString('hex');
const pgbossSchema = `pgboss_keys_${suffix}`;
const bullmqQueue = `jgtest-keys-${suffix}`;
const cleanups: (() => Promise<unknown>)[] = [];

const adapters: Record<string, () => QueueAdapter> = {
  inline: () => createInlineAdapter(),
  bullmq: () => createBullmqAdapter({ redisUrl: REDIS_URL, queueName: bullmqQueue, logger }),
  pgboss: () => createPgbossAdapter({ connectionString: DATABASE_URL, schema: pgbossSchema, queueName: `keys_${suffix}`, logger }),
};

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

afterAll(async () => {
  const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const queue = new Queue(bullmqQueue, { connection: conn, prefix: 'jobgraph' });
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  conn.disconnect();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${pgbossSchema} CASCADE`);
  await client.end();
});

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.each(Object.keys(adapters))('dispatch keys on %s', (name) => {
  async function consuming(): Promise<{ adapter: QueueAdapter; delivered: string[] }> {
    const adapter = adapters[name]!();
    cleanups.push(() => adapter.close());
    const delivered: string[] = [];
    await adapter.consume(async (jobId) => void delivered.push(jobId), 4);
    return { adapter, delivered };
  }
  const idle = (adapter: QueueAdapter) => async () => {
    const c = await adapter.counts();
    return c.waiting + c.delayed + c.active === 0;
  };

  it('adds nothing for a key it still holds, and takes the key again once its entry was delivered', async () => {
    const { adapter, delivered } = await consuming();
    const jobId = randomUUID();
    const key = `${jobId}.1`;
    const first = await adapter.enqueue({ jobId, key, task: 't', delayMs: 300 });
    const again = await adapter.enqueue({ jobId, key, task: 't', delayMs: 300 });
    expect(again).toBe(first);
    await until('the delivery', () => delivered.length === 1);
    await until('the entry to be settled', idle(adapter));
    await sleep(200);
    expect(delivered).toEqual([jobId]);

    // Delivered and settled: the same key is a new entry (a job whose claim was lost comes back).
    await adapter.enqueue({ jobId, key, task: 't' });
    await until('the second delivery', () => delivered.length === 2);
    expect(delivered).toEqual([jobId, jobId]);
  });

  it('delivers each key of one job: a retry is another dispatch', async () => {
    const { adapter, delivered } = await consuming();
    const jobId = randomUUID();
    await adapter.enqueue({ jobId, key: `${jobId}.1`, task: 't', delayMs: 200 });
    await adapter.enqueue({ jobId, key: `${jobId}.4`, task: 't', delayMs: 200 });
    await until('both deliveries', () => delivered.length === 2);
  });
});
