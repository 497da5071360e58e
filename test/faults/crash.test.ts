import { describe, expect, it } from 'vitest';
import { slowJob } from './support/jobs.ts';
import { scenarioPerTest, sleep, type Backend } from './support/scenario.ts';

/** Processes dying under load: workers killed, the API killed, a worker told to stop. */
describe.each<Backend>(['bullmq', 'pgboss', 'rabbitmq'])('crashes on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('a worker SIGKILLed twice during load: nothing lost, nothing left RUNNING', async () => {
    const scenario = await startScenario('worker SIGKILLed twice', { backend });
    const load = scenario.load({ total: 1_500, ratePerSecond: 100, mutation: slowJob(100) });
    await sleep(4_000);
    await scenario.workers[0]!.kill('SIGKILL');
    await scenario.startWorker();
    await sleep(4_000);
    await scenario.workers[1]!.kill('SIGKILL');
    const faultEndedAt = Date.now();
    await scenario.startWorker();
    const result = await load.done;
    const verdict = await scenario.finish(result.accepted, { faultEndedAt, notes: [`${result.errors} refused`] });
    expect(result.errors).toBe(0);
    // The attempts the killed workers were running are on record, with why they ran again.
    expect(verdict.reasons.WORKER_LOST ?? 0).toBeGreaterThan(0);
  });

  it('the API SIGKILLed mid-load: every job it answered with an id completes', async () => {
    const scenario = await startScenario('API SIGKILLed mid-load', { backend });
    const load = scenario.load({ total: 1_500, ratePerSecond: 150, mutation: slowJob(20) });
    await sleep(4_000);
    await scenario.api.kill('SIGKILL');
    const faultEndedAt = Date.now();
    scenario.api = await scenario.deployment.startApi();
    const result = await load.done;
    await scenario.finish(result.accepted, { faultEndedAt, notes: [`${result.errors} requests failed while no API ran`] });
  });

  it('SIGTERM of a worker mid-job: its jobs are finished or handed back, none lost', async () => {
    const scenario = await startScenario('SIGTERM of a worker mid-job', { backend, env: { SHUTDOWN_TIMEOUT_MS: '3000' } });
    // Every fourth job runs 8 s: longer than the shutdown grace, so it is handed back.
    const load = scenario.load({
      total: 400,
      ratePerSecond: 100,
      mutation: (i) => (i % 4 === 0 ? slowJob(2_000)() : slowJob(100)()),
    });
    await sleep(3_000);
    const exit = await scenario.workers[0]!.kill('SIGTERM');
    const faultEndedAt = Date.now();
    expect(exit.code).toBe(0);
    await scenario.startWorker();
    const result = await load.done;
    await scenario.finish(result.accepted, { faultEndedAt, notes: [`worker exited ${exit.code} after SIGTERM`] });
  });
});
