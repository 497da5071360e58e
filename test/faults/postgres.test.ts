import { describe, expect, it } from 'vitest';
import { demoIds, gql, preparePhases, runPhase, waitForCompletion } from '../helpers/api-probe.ts';
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

/**
 * PostgreSQL crashes (immediate stop: no checkpoint, connections cut) for a few seconds while the
 * long workflow tasks run in a worker process: their reads and writes fail mid-task, and nothing
 * of that may turn into "not found" or a job failed for good.
 */
describe('PostgreSQL crashed during the long tasks', () => {
  const startScenario = scenarioPerTest();

  it('profileDataset and executeTests both end COMPLETED with whole results', async () => {
    const scenario = await startScenario('PostgreSQL crashed during profileDataset and executeTests', { backend: 'bullmq', workers: 1 });
    const url = scenario.api.url;
    await runPhase(url, 'seedDemoData', {});
    const ids = (await demoIds(url))!;
    await preparePhases(url, ids, 5_000);
    const { datasets } = await gql<{ datasets: { id: string; recordCount: number }[] }>(url, '{ datasets { id recordCount } }');
    const records = datasets.find((d) => d.id === ids.datasetId)!.recordCount;

    const enqueue = async (mutation: string, input: Record<string, unknown>) => {
      const name = mutation.charAt(0).toUpperCase() + mutation.slice(1);
      const data = await gql<Record<string, { job: { id: string } }>>(url, `mutation($input: ${name}Input!) { ${mutation}(input: $input) { job { id } } }`, { input });
      return data[mutation]!.job.id;
    };
    const profile = await enqueue('profileDataset', { datasetId: ids.datasetId });
    const tests = await enqueue('executeTests', ids);
    // Both under way, with progress recorded: the crash meets them mid-task.
    const progress = async (id: string) =>
      (await gql<{ job: { status: string; progress: number } }>(url, 'query($id: ID!) { job(id: $id) { status progress } }', { id })).job;
    for (const deadline = Date.now() + 60_000; ; await sleep(50)) {
      const [a, b] = await Promise.all([progress(profile), progress(tests)]);
      if (a.status === 'RUNNING' && b.status === 'RUNNING' && a.progress > 0 && b.progress > 0) break;
      if (Date.now() > deadline) throw new Error(`the two tasks did not both start: ${JSON.stringify([a, b])}`);
    }
    await scenario.pg.stop('immediate');
    await sleep(3_000);
    await scenario.pg.startAgain();
    const back = Date.now();

    const [profiled, tested] = await Promise.all([waitForCompletion(url, profile, 180_000), waitForCompletion(url, tests, 180_000)]);
    expect(profiled.result).toMatchObject({ rows: records });
    const { samples, rules, total } = tested.result as { samples: number; rules: number; total: number };
    expect(samples).toBe(5_000);
    expect(total).toBe(samples * rules);
    await scenario.finish([profile, tests], { faultEndedAt: back, notes: [`profileDataset ${records} rows, executeTests ${total} results, after a 3 s crash`] });
  });
});
