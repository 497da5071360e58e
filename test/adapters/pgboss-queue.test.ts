// The pg-boss QueueAdapter against a real PostgreSQL: one schema for this file (dropped at the
// end), one queue per test.
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

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `pgboss_test_${randomBytes(4).toString('hex')}`;
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
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
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
});

describe('pg-boss adapter', () => {
  it('probes ok against a running PostgreSQL', async () => {
    const a = adapter();
    const probe = await a.probe();
    expect(probe).toMatchObject({ ok: true });
    expect(probe.detail).toContain(schema);
    expect(probe.latencyMs).toBeLessThan(5_000);
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

  it('delivers an enqueued job id to the handler', async () => {
    const a = adapter();
    const r = recorder();
    await a.consume(r.handler, 2);
    const d = dispatch();
    const ref = await a.enqueue(d);
    expect(ref).toMatch(/^[0-9a-f-]{36}$/);
    await r.until(1);
    expect(r.received).toEqual([d.jobId]);
    expect((await a.probe()).ok).toBe(true);
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

  it('respects the delay', async () => {
    const a = adapter();
    const arrivals = new Map<string, number>();
    await a.consume(async (jobId) => void arrivals.set(jobId, Date.now()), 2);
    const d = dispatch({ delayMs: 1_500 });
    const sent = Date.now();
    await a.enqueue(d);
    await expect.poll(() => arrivals.has(d.jobId), { timeout: 6_000, interval: 50 }).toBe(true);
    const waited = arrivals.get(d.jobId)! - sent;
    expect(waited).toBeGreaterThanOrEqual(1_450);
    expect(waited).toBeLessThan(3_500);
  });

  it('delivers higher priority first', async () => {
    const a = adapter();
    const low = [dispatch({ priority: -5 }), dispatch({ priority: -5 }), dispatch({ priority: -5 })];
    const high = [dispatch({ priority: 10 }), dispatch({ priority: 10 }), dispatch({ priority: 10 })];
    for (const d of [...low, ...high]) await a.enqueue(d);
    const r = recorder();
    await a.consume(r.handler, 1);
    await r.until(6);
    expect(new Set(r.received.slice(0, 3))).toEqual(new Set(high.map((d) => d.jobId)));
    expect(new Set(r.received.slice(3))).toEqual(new Set(low.map((d) => d.jobId)));
  });

  it('removes a delayed job, which is then never delivered', async () => {
    const a = adapter();
    const r = recorder();
    await a.consume(r.handler, 2);
    const removed = dispatch({ delayMs: 1_000 });
    const ref = await a.enqueue(removed);
    expect(await a.remove(ref)).toBe(true);
    expect(await a.remove(ref)).toBe(false);
    expect(await a.remove('not-a-ref')).toBe(false);
    const kept = dispatch({ delayMs: 1_000 });
    await a.enqueue(kept);
    await r.until(1, 5_000);
    await sleep(1_000);
    expect(r.received).toEqual([kept.jobId]);
  });

  it('does not remove a job a consumer holds', async () => {
    const a = adapter();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    await a.consume(async (jobId) => {
      started.push(jobId);
      await released;
    }, 1);
    const d = dispatch();
    const ref = await a.enqueue(d);
    await expect.poll(() => started, { timeout: 5_000 }).toEqual([d.jobId]);
    expect(await a.remove(ref)).toBe(false);
    release();
  });

  it('runs at most `concurrency` handlers at once', async () => {
    const a = adapter();
    let running = 0;
    let max = 0;
    const done: string[] = [];
    await a.consume(async (jobId) => {
      running++;
      max = Math.max(max, running);
      await sleep(200);
      running--;
      done.push(jobId);
    }, 3);
    const sent = Array.from({ length: 10 }, () => dispatch());
    await Promise.all(sent.map((d) => a.enqueue(d)));
    await expect.poll(() => done.length, { timeout: 10_000, interval: 50 }).toBe(10);
    expect(max).toBe(3);
    expect(new Set(done)).toEqual(new Set(sent.map((d) => d.jobId)));
  });

  it('delivers a burst of 500 jobs promptly', async () => {
    const a = adapter();
    const r = recorder();
    await a.consume(r.handler, 20);
    const sent = Array.from({ length: 500 }, () => dispatch());
    const started = Date.now();
    // Sends in parallel streams, as a busy API would.
    const pending = [...sent];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let d = pending.shift(); d; d = pending.shift()) await a.enqueue(d);
      }),
    );
    const enqueuedMs = Date.now() - started;
    await r.until(500, 20_000);
    const totalMs = Date.now() - started;
    console.info(`pg-boss burst: 500 jobs enqueued in ${enqueuedMs} ms, all delivered in ${totalMs} ms`);
    expect(new Set(r.received).size).toBe(500);
    expect(totalMs).toBeLessThan(15_000);
  });

  it('drains a backlog of 500 queued jobs promptly', async () => {
    const a = adapter();
    const sent = Array.from({ length: 500 }, () => dispatch());
    const pending = [...sent];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let d = pending.shift(); d; d = pending.shift()) await a.enqueue(d);
      }),
    );
    // No NOTIFY comes after this: only bursting (full batches) keeps the workers fetching.
    const r = recorder();
    const started = Date.now();
    await a.consume(r.handler, 20);
    await r.until(500, 20_000);
    const totalMs = Date.now() - started;
    console.info(`pg-boss backlog: 500 queued jobs delivered in ${totalMs} ms`);
    expect(new Set(r.received).size).toBe(500);
    expect(totalMs).toBeLessThan(10_000);
  });

  it('stopConsuming waits for the handlers in flight and takes no new deliveries', async () => {
    const a = adapter();
    const finished: string[] = [];
    const started: string[] = [];
    await a.consume(async (jobId) => {
      started.push(jobId);
      await sleep(700);
      finished.push(jobId);
    }, 2);
    // Three jobs for two slots: the third waits (handed back) while the first two run.
    await Promise.all([dispatch(), dispatch(), dispatch()].map((d) => a.enqueue(d)));
    await expect.poll(() => started.length, { timeout: 5_000, interval: 20 }).toBe(2);
    await a.stopConsuming();
    expect(new Set(finished)).toEqual(new Set(started));
    expect(started).toHaveLength(2);
    // Producing still works; nothing is consumed any more.
    await a.enqueue(dispatch());
    await sleep(1_000);
    expect(started).toHaveLength(2);
    expect(await a.counts()).toEqual({ waiting: 2, delayed: 0, active: 0 });
  });

  it('does not hold jobs it has no slot for: another consumer runs them', async () => {
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

  it('rejects a second consume', async () => {
    const a = adapter();
    await a.consume(async () => {}, 1);
    await expect(a.consume(async () => {}, 1)).rejects.toThrow(/already/);
  });

  it('closes idempotently', async () => {
    const a = adapter();
    await a.consume(async () => {}, 2);
    await a.enqueue(dispatch());
    await a.close();
    await a.close();
    const probe = await a.probe();
    expect(probe.ok).toBe(false);
    await expect(a.enqueue(dispatch())).rejects.toThrow(/closed/);
  });

  it('closes an adapter that was never used', async () => {
    const a = adapter();
    await a.close();
    await a.close();
  });

  it('counts waiting, delayed and active jobs', async () => {
    const a = adapter();
    await a.enqueue(dispatch());
    await a.enqueue(dispatch());
    await a.enqueue(dispatch({ delayMs: 60_000 }));
    expect(await a.counts()).toEqual({ waiting: 2, delayed: 1, active: 0 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await a.consume(() => released, 1);
    await expect.poll(() => a.counts(), { timeout: 5_000, interval: 100 }).toEqual({ waiting: 1, delayed: 1, active: 1 });
    release();
    await expect.poll(() => a.counts(), { timeout: 5_000, interval: 100 }).toEqual({ waiting: 0, delayed: 1, active: 0 });
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
