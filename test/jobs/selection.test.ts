import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/jobs/backend-selection.ts';
import { loadConfig } from '../../src/config.ts';
import { JobSystem } from '../../src/jobs/system.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/ports.ts';
import { REDIS_URL, testEnv, uniqueName } from '../helpers/system.ts';
import { testLimits } from '../fixtures/limits.ts';
import { createTestRegistry } from '../fixtures/tasks.ts';

const logger = createLogger('silent');

describe('backend selection', () => {
  let database: TestDatabase;
  let closedRedis: string;
  let closedPostgres: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    closedRedis = `redis://127.0.0.1:${await freePort()}`;
    closedPostgres = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
  });
  afterAll(() => database?.drop());

  const config = (env: Record<string, string | undefined>) =>
    loadConfig(testEnv({ QUEUE_NAME: uniqueName('sel'), PGBOSS_SCHEMA: uniqueName('pgboss'), ...env }));

  it('auto picks bullmq when Redis answers', async () => {
    const selection = await selectBackend(config({ REDIS_URL, DATABASE_URL: database.url }), logger);
    try {
      expect(selection.adapter.name).toBe('bullmq');
      expect(selection.probes.map((p) => [p.backend, p.ok])).toEqual([['bullmq', true]]);
    } finally {
      await selection.adapter.close();
    }
  });

  it('auto picks pgboss when only PostgreSQL answers, and says why bullmq was skipped', async () => {
    const selection = await selectBackend(config({ REDIS_URL: closedRedis, DATABASE_URL: database.url }), logger);
    try {
      expect(selection.adapter.name).toBe('pgboss');
      expect(selection.probes.map((p) => [p.backend, p.ok])).toEqual([
        ['bullmq', false],
        ['pgboss', true],
      ]);
      expect(selection.reason).toMatch(/bullmq skipped: /);
    } finally {
      await selection.adapter.close();
    }
  });

  // selectBackend alone: JobSystem always passes its ledger's URL as DATABASE_URL (below).
  it('auto runs inline with neither service', async () => {
    const selection = await selectBackend(config({ REDIS_URL: closedRedis, DATABASE_URL: undefined }), logger);
    expect(selection.adapter.name).toBe('inline');
    expect(selection.reason).toMatch(/bullmq skipped: .*pgboss skipped: DATABASE_URL is not set/);
    await selection.adapter.close();
  });

  it('auto skips an unreachable PostgreSQL too', async () => {
    const selection = await selectBackend(config({ REDIS_URL: closedRedis, DATABASE_URL: closedPostgres }), logger);
    expect(selection.adapter.name).toBe('inline');
    expect(selection.probes.map((p) => [p.backend, p.ok])).toEqual([
      ['bullmq', false],
      ['pgboss', false],
      ['inline', true],
    ]);
    await selection.adapter.close();
  });

  it('an explicit backend whose probe fails stops startup with a clear error', async () => {
    await expect(selectBackend(config({ QUEUE_BACKEND: 'bullmq', REDIS_URL: closedRedis }), logger)).rejects.toMatchObject({
      code: 'QUEUE_UNAVAILABLE',
      message: expect.stringMatching(/QUEUE_BACKEND=bullmq was chosen but its probe failed: .*REDIS_URL/),
    });
    await expect(selectBackend(config({ QUEUE_BACKEND: 'pgboss', DATABASE_URL: undefined }), logger)).rejects.toMatchObject({
      code: 'QUEUE_UNAVAILABLE',
      message: expect.stringMatching(/QUEUE_BACKEND=pgboss cannot run: DATABASE_URL is not set/),
    });
    await expect(
      selectBackend(config({ QUEUE_BACKEND: 'pgboss', DATABASE_URL: closedPostgres }), logger),
    ).rejects.toMatchObject({ code: 'QUEUE_UNAVAILABLE' });
  });

  it('JobSystem.start fails on an explicit backend that is down, and leaves nothing open', async () => {
    await expect(
      JobSystem.start({ config: config({ QUEUE_BACKEND: 'bullmq', REDIS_URL: closedRedis, DATABASE_URL: database.url }), logger, registry: createTestRegistry(), limits: testLimits }),
    ).rejects.toThrow(/QUEUE_BACKEND=bullmq was chosen but its probe failed/);
  });

  it('keeps the decision for queueInfo', async () => {
    const system = await JobSystem.start({
      config: config({ REDIS_URL: closedRedis, DATABASE_URL: database.url }),
      logger,
      registry: createTestRegistry(), limits: testLimits,
    });
    try {
      const info = await system.queueInfo();
      expect(info).toMatchObject({ backend: 'pgboss', ledger: 'postgres', eventBus: 'postgres' });
      expect(info.probes[0]).toMatchObject({ backend: 'bullmq', ok: false });
      expect(info.workers.map((w) => w.id)).toEqual([system.workerId]);
    } finally {
      await system.stop();
    }
  });

  it('auto on the embedded ledger without Redis picks pg-boss on that PostgreSQL, not inline', async () => {
    // As npm start's processes open it: DATABASE_URL unset, EMBEDDED_LEDGER_URL given.
    const system = await JobSystem.start({
      config: config({ REDIS_URL: closedRedis, DATABASE_URL: undefined, EMBEDDED_LEDGER_URL: database.url }),
      logger,
      registry: createTestRegistry(), limits: testLimits,
    });
    try {
      expect(await system.queueInfo()).toMatchObject({ backend: 'pgboss', ledger: 'embedded', eventBus: 'postgres' });
      expect(system.selection.reason).toMatch(/bullmq skipped: .*pg-boss on PostgreSQL answered/);
    } finally {
      await system.stop();
    }
  });
});

describe('configuration', () => {
  it('rejects an invalid value naming the variable and what it accepts', () => {
    expect(() => loadConfig({ QUEUE_BACKEND: 'kafka' })).toThrow(/QUEUE_BACKEND="kafka": .*"auto".*"bullmq".*"pgboss".*"inline"/s);
    expect(() => loadConfig({ WORKER_CONCURRENCY: 'lots' })).toThrow(/WORKER_CONCURRENCY="lots"/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL=.*postgres/);
  });

  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      QUEUE_BACKEND: 'auto',
      RETRY_BASE_MS: 60_000,
      MAX_ATTEMPTS: 4,
      EMBEDDED_DIR: './.jobgraph',
      WORKER_IN_PROCESS: true,
    });
  });
});
