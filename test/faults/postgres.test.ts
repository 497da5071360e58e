import { describe, expect, it } from 'vitest';
import { enqueueOnce, slowJob } from './support/jobs.ts';
import { scenarioPerTest, sleep, type Backend } from './support/scenario.ts';

/** The ledger's PostgreSQL (its own cluster) restarted under load. */
describe.each<Backend>(['bullmq', 'pgboss'])('PostgreSQL restarted on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('answers clear errors while it is down, takes jobs again within 5 s of its return, loses none', async () => {
    const scenario = await startScenario('PostgreSQL restarted', { backend });
    const load = scenario.load({ total: 1_500, ratePerSecond: 75, mutation: slowJob(20), timeoutMs: 10_000 });
    await sleep(5_000);
    await scenario.pg.stop('fast');
    await sleep(2_000); // down: requests must fail fast and clearly
    await scenario.pg.startAgain();
    const back = Date.now();
    while (!(await enqueueOnce(scenario.api.url))) {
      if (Date.now() - back > 30_000) throw new Error('the API did not take a job within 30 s of PostgreSQL coming back');
      await sleep(100);
    }
    const takesJobsAfterMs = Date.now() - back;
    const result = await load.done;
    const unclear = result.errorSamples.filter((sample) => !/LEDGER_UNAVAILABLE/.test(sample));
    const verdict = await scenario.finish(result.accepted, {
      faultEndedAt: back,
      notes: [
        `API took jobs again ${(takesJobsAfterMs / 1000).toFixed(1)} s after PostgreSQL was back`,
        `${result.errors} requests refused while down (${result.errorSamples.length ? 'LEDGER_UNAVAILABLE' : 'none'})`,
      ],
    });
    expect(takesJobsAfterMs).toBeLessThanOrEqual(5_000);
    // Refusals while down say what happened (typed code), and no process crashed.
    expect(unclear).toEqual([]);
    for (const process of [scenario.api, ...scenario.workers]) {
      const exited = await Promise.race([process.exited.then(() => true), sleep(10).then(() => false)]);
      expect(exited).toBe(false);
    }
    expect(verdict.lost).toBe(0);
  });
});
