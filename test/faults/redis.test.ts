import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnRedis } from '../helpers/ports.ts';
import { Deployment } from './support/deployment.ts';
import { slowJob } from './support/jobs.ts';
import { startLoad } from './support/load.ts';
import { OwnPostgres } from './support/postgres.ts';
import { recordRow } from './support/report.ts';
import { FAULT_ENV, scenarioPerTest, sleep } from './support/scenario.ts';
import { verifyLedger } from './support/verify.ts';

/** Redis, which BullMQ keeps its queue in, going away or forgetting. */
describe('Redis faults (BullMQ)', () => {
  const startScenario = scenarioPerTest();
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('Redis killed for 10 s, then back: the API answers throughout, nothing accepted is lost', async () => {
    const scenario = await startScenario('Redis killed for 10 s', { backend: 'bullmq' });
    const load = scenario.load({ total: 1_500, ratePerSecond: 75, mutation: slowJob(20) });
    await sleep(4_000);
    await scenario.redis.stop();
    await sleep(10_000);
    await scenario.redis.start();
    const faultEndedAt = Date.now();
    const result = await load.done;
    const logs = (await Promise.all([scenario.api, ...scenario.workers].map((p) => readFile(p.logPath, 'utf8')))).join('\n');
    const failedOver = logs.includes('primary backend is down; failing over');
    const failedBack = logs.includes('primary backend is back');
    await scenario.finish(result.accepted, {
      faultEndedAt,
      notes: [`${result.errors} refused while Redis was down`, `fail-over logged: ${failedOver}, fail-back logged: ${failedBack}`],
    });
    expect(result.errors, result.errorSamples.join('\n')).toBe(0);
    expect(failedOver).toBe(true);
    expect(failedBack).toBe(true);
  });

  for (const fault of ['flushed', 'restarted'] as const) {
    it(`Redis ${fault} faster than a probe notices: every job completes within 60 s (default sweep bound)`, async () => {
      // REDISPATCH_AFTER_MS at its default (30 s): this is the promise README makes.
      const scenario = await startScenario(`Redis ${fault} within one probe interval`, { backend: 'bullmq', env: { REDISPATCH_AFTER_MS: '30000' } });
      // Jobs due in 4 s sit in Redis as delayed entries when it forgets them; others run meanwhile.
      const delayed = scenario.load({
        total: 200,
        mutation: () => ({ query: 'mutation { countWords(input: { text: "x" }, delayMs: 4000) { job { id } } }' }),
      });
      const running = scenario.load({ total: 600, ratePerSecond: 100, mutation: slowJob(50) });
      await delayed.done;
      await sleep(1_000);
      if (fault === 'flushed') {
        const client = new Redis(scenario.redis.url);
        await client.flushall();
        client.disconnect();
      } else {
        await scenario.redis.stop();
        await scenario.redis.start();
      }
      const faultEndedAt = Date.now();
      const accepted = [...(await delayed.done).accepted, ...(await running.done).accepted];
      const verdict = await scenario.finish(accepted, { faultEndedAt, timeoutMs: 90_000 });
      expect(verdict.completed).toBe(accepted.length);
      expect(verdict.recoveryMs).toBeLessThan(60_000);
    });
  }

  it('two deployments with ledgers of their own, one Redis, one QUEUE_NAME: both complete all their jobs', async () => {
    const postgres = await OwnPostgres.start();
    cleanups.push(() => postgres.destroy());
    const redis = await OwnRedis.start();
    cleanups.push(() => redis.destroy());
    const logDir = await mkdtemp(join(tmpdir(), 'jobgraph-faults-two-ledgers-'));
    const deployments = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const databaseUrl = await postgres.createDatabase(`ledger_${name}`);
        const deployment = Deployment.create({ ...FAULT_ENV, DATABASE_URL: databaseUrl, REDIS_URL: redis.url, QUEUE_BACKEND: 'bullmq' }, join(logDir, name));
        cleanups.push(() => deployment.stopAll());
        const api = await deployment.startApi();
        await deployment.startWorker();
        return { name, databaseUrl, api };
      }),
    );
    const results = await Promise.all(deployments.map(({ api }) => startLoad({ url: () => api.url, total: 300, clients: 10 }).done));
    for (const [i, { name, databaseUrl }] of deployments.entries()) {
      const verdict = await verifyLedger(databaseUrl, results[i]!.accepted, { timeoutMs: 60_000 });
      recordRow({
        scenario: `two ledgers, one Redis, one QUEUE_NAME (deployment ${name})`,
        backend: 'bullmq',
        accepted: verdict.accepted,
        completed: verdict.completed,
        lost: verdict.lost,
        duplicateTerminal: verdict.duplicateTerminal,
        longestRecoveryMs: null,
      });
      expect(verdict.accepted).toBe(300);
      expect(verdict.lost).toBe(0);
      expect(verdict.duplicateTerminal).toBe(0);
    }
  });
});
