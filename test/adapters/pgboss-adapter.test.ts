/**
 * The pg-boss adapter against a real PostgreSQL (DATABASE_URL, default the local `postgres`
 * database): the queue-contract suite, each of its tests in a pg-boss schema of its own (dropped
 * after it), then what only pg-boss does, in one schema for this file (dropped at the end).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createPgbossAdapter, type PgbossAdapterOptions } from '../../src/adapters/pgboss.ts';
import type { QueueAdapter } from '../../src/adapters/types.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { testQueueAdapter } from './queue-contract.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

testQueueAdapter(
  'pgboss',
  (queue) => ({
    adapter: createPgbossAdapter({ connectionString: DATABASE_URL, schema: queue, queueName: queue, logger }),
    cleanup: () => dropSchema(queue),
  }),
  {
    capabilities: { durable: true, deduplicates: true, remove: true, maxDelayMs: Infinity, priorityLevels: 2001, shared: true },
    service: {
      port: Number(new URL(DATABASE_URL).port || 5432),
      through: (queue, port) => {
        const url = new URL(DATABASE_URL);
        url.port = String(port);
        return { adapter: createPgbossAdapter({ connectionString: url.toString(), schema: queue, queueName: queue, logger }), cleanup: () => dropSchema(queue) };
      },
    },
  },
);

async function dropSchema(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
  } finally {
    await client.end();
  }
}

// ── pg-boss only: unreachable servers, lost connections, NOTIFY, hand-back, crashed consumers ──

const schema = `pgboss_test_${randomBytes(4).toString('hex')}`;
const uniqueQueue = () => `q_${randomBytes(4).toString('hex')}`;

const adapters: QueueAdapter[] = [];

function adapter(overrides: Partial<PgbossAdapterOptions> = {}): QueueAdapter {
  const a = createPgbossAdapter({ connectionString: DATABASE_URL, schema, queueName: uniqueQueue(), logger, ...overrides });
  adapters.push(a);
  return a;
}

/** Collects deliveries; `until(n)` resolves once n have arrived. */
function recorder() {
  const received: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const handler = async (jobId: string) => {
    received.push(jobId);
    for (const w of waiters) if (received.length >= w.n) w.resolve();
  };
  const until = (n: number, timeoutMs = 10_000) =>
    Promise.race([
      new Promise<void>((resolve) => (received.length >= n ? resolve() : waiters.push({ n, resolve }))),
      sleep(timeoutMs).then(() => {
        throw new Error(`only ${received.length} of ${n} deliveries within ${timeoutMs} ms`);
      }),
    ]);
  return { received, handler, until };
}

const dispatch = (extra: { delayMs?: number; priority?: number } = {}) => ({ key: randomUUID(), jobId: randomUUID(), task: 'test', ...extra });

afterEach(async () => {
  await Promise.all(adapters.splice(0).map((a) => a.close()));
});

afterAll(async () => {
  await dropSchema(schema);
});

describe('pg-boss adapter', () => {
  it('probe names its schema', async () => {
    const a = adapter();
    const probe = await a.probe();
    expect(probe).toMatchObject({ ok: true });
    expect(probe.detail).toContain(schema);
  });

  it('reports an unreachable PostgreSQL quickly, and enqueue rejects', async () => {
    const a = adapter({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    const probe = await a.probe();
    expect(probe.ok).toBe(false);
    expect(probe.detail).toMatch(/ECONNREFUSED|connect/i);
    expect(probe.latencyMs).toBeLessThan(5_000);
    const started = Date.now();
    await expect(a.enqueue(dispatch())).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('never hangs on a server that accepts connections and does not answer', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const a = adapter({ connectionString: `postgres://postgres@127.0.0.1:${port}/test` });
      const probe = await a.probe();
      expect(probe.ok).toBe(false);
      expect(probe.latencyMs).toBeLessThan(5_000);
      const started = Date.now();
      await expect(a.enqueue(dispatch())).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_500);
      await a.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps delivering after PostgreSQL terminates its connections', async () => {
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    const database = `pgboss_test_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${database}`);
    try {
      const url = new URL(DATABASE_URL);
      url.pathname = `/${database}`;
      const a = adapter({ connectionString: url.toString() });
      const r = recorder();
      await a.consume(r.handler, 2);
      await a.enqueue(dispatch());
      await r.until(1);

      const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      expect(rowCount).toBeGreaterThan(0);
      // The pool drops dead connections as it notices them: an enqueue may fail once meanwhile.
      await expect
        .poll(() => a.enqueue(dispatch()).then(() => true, () => false), { timeout: 10_000, interval: 200 })
        .toBe(true);
      await r.until(2, 15_000);
      await expect.poll(async () => (await a.probe()).ok, { timeout: 15_000, interval: 500 }).toBe(true);
      await a.close();
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('wakes idle consumers by NOTIFY rather than by its poll', async () => {
    const a = adapter({ pollIntervalSeconds: 10 });
    const arrivals = new Map<string, number>();
    await a.consume(async (jobId) => void arrivals.set(jobId, Date.now()), 2);
    await a.probe(); // let the workers' first (empty) fetch pass: they now sleep 10 s
    await sleep(300);
    for (let i = 0; i < 5; i++) {
      const d = dispatch();
      const sent = Date.now();
      await a.enqueue(d);
      await expect.poll(() => arrivals.has(d.jobId), { timeout: 3_000, interval: 5 }).toBe(true);
      expect(arrivals.get(d.jobId)! - sent).toBeLessThan(500);
      await sleep(200);
    }
  });

  it('completes a job in pg-boss when its handler returns, not when its batch does', async () => {
    const queueName = uniqueQueue();
    const a = adapter({ queueName });
    const quick = dispatch();
    const slow = dispatch();
    const quickRef = await a.enqueue(quick);
    const slowRef = await a.enqueue(slow);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Both are queued before it consumes, so one fetch (a batch of 2) takes both.
    await a.consume(async (jobId) => {
      if (jobId === slow.jobId) await held;
    }, 2);
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const stateOf = async (id: string) =>
        (await client.query<{ state: string }>(`SELECT state FROM ${schema}.job WHERE name = $1 AND id = $2`, [queueName, id])).rows[0]?.state;
      await expect.poll(() => stateOf(quickRef), { timeout: 5_000, interval: 20 }).toBe('completed');
      expect(await stateOf(slowRef)).toBe('active');
      release();
      await expect.poll(() => stateOf(slowRef), { timeout: 5_000, interval: 20 }).toBe('completed');
    } finally {
      release();
      await client.end();
    }
  });

  it('a slot freed by a short job takes the job fetched beside it, not handing it back', async () => {
    const queueName = uniqueQueue();
    const a = adapter({ queueName });
    const sent = Array.from({ length: 30 }, () => dispatch());
    for (const d of sent) await a.enqueue(d);
    const r = recorder();
    // One slot and batches of 2: every fetch brings a job with no slot yet.
    await a.consume(async (jobId) => {
      await sleep(5);
      await r.handler(jobId);
    }, 1);
    await r.until(sent.length);
    expect(new Set(r.received)).toEqual(new Set(sent.map((d) => d.jobId)));
    // pg-boss counts every fetch of a job (retry_count): a hand-back would show as a second one.
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ fetches: number; jobs: number }>(
        `SELECT max(retry_count)::int - min(retry_count)::int AS fetches, count(*)::int AS jobs FROM ${schema}.job WHERE name = $1`,
        [queueName],
      );
      expect(rows[0]).toEqual({ fetches: 0, jobs: sent.length });
    } finally {
      await client.end();
    }
  });

  it('holds a job it has no slot for only a moment: another consumer runs it', async () => {
    const queueName = uniqueQueue();
    const starts = new Map<string, number>();
    const slow = async (jobId: string) => {
      starts.set(jobId, Date.now());
      await sleep(3_000);
    };
    const a = adapter({ queueName });
    const b = adapter({ queueName });
    // Both are queued before A consumes, so A's first fetch takes both (batch of 2), one slot.
    for (const d of [dispatch(), dispatch()]) await a.enqueue(d);
    const t0 = Date.now();
    await a.consume(slow, 1);
    await expect.poll(() => starts.size, { timeout: 3_000, interval: 20 }).toBe(1);
    await b.consume(slow, 1);
    await expect.poll(() => starts.size, { timeout: 2_500, interval: 20 }).toBe(2);
    expect(Math.max(...starts.values()) - t0).toBeLessThan(3_000);
  });

  it('nothing works after close', async () => {
    const a = adapter();
    await a.consume(async () => {}, 2);
    await a.enqueue(dispatch());
    await a.close();
    const probe = await a.probe();
    expect(probe.ok).toBe(false);
    await expect(a.enqueue(dispatch())).rejects.toThrow(/closed/);
  });

  it('redelivers the job of a consumer killed with SIGKILL within 60 s', { timeout: 120_000 }, async () => {
    const queueName = uniqueQueue();
    const heartbeatSeconds = 10;
    const producer = adapter({ queueName, heartbeatSeconds });
    await producer.probe(); // installs the schema and queue before the child races for them

    // A consumer in its own process whose handler never returns.
    const script = `
      const { createPgbossAdapter } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/adapters/pgboss.ts', import.meta.url)))});
      const { createLogger } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/lib/logger.ts', import.meta.url)))});
      const adapter = createPgbossAdapter(${JSON.stringify({ connectionString: DATABASE_URL, schema, queueName, heartbeatSeconds })
        .replace(/}$/, ', logger: createLogger("silent") }')});
      await adapter.consume(async (jobId) => {
        process.stdout.write('got ' + jobId + '\\n');
        await new Promise(() => {});
      }, 1);
      process.stdout.write('ready\\n');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await expect.poll(() => output, { timeout: 20_000, interval: 50 }).toContain('ready');

      const d = dispatch();
      await producer.enqueue(d);
      await expect.poll(() => output, { timeout: 10_000, interval: 50 }).toContain(`got ${d.jobId}`);
      child.kill('SIGKILL');
      const killedAt = Date.now();

      const r = recorder();
      await producer.consume(r.handler, 1);
      await r.until(1, 60_000);
      const afterMs = Date.now() - killedAt;
      console.info(`pg-boss: job of a SIGKILLed consumer redelivered after ${afterMs} ms (heartbeat ${heartbeatSeconds} s)`);
      expect(r.received).toEqual([d.jobId]);
      expect(afterMs).toBeGreaterThanOrEqual(heartbeatSeconds * 1000 - 6_000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
