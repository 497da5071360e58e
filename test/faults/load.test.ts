import { describe, expect, it } from 'vitest';
import { scenarioPerTest, type Backend } from './support/scenario.ts';

/**
 * The case that lost jobs: one API process and two worker processes writing the same ledger rows
 * at once (the API creates and confirms; workers claim, heartbeat, complete; every process sweeps),
 * 10,000 jobs from 20 HTTP clients.
 */
describe.each<Backend>(['bullmq', 'pgboss'])('two concurrent writers on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('loses none of 10,000 jobs, and no deadlock becomes lost work', async () => {
    const scenario = await startScenario('two concurrent writers, 10,000 jobs', { backend });
    const load = scenario.load({ total: 10_000, clients: 20 });
    const result = await load.done;
    const verdict = await scenario.finish(result.accepted, {
      timeoutMs: 180_000,
      notes: [`${result.sent} sent in ${(result.elapsedMs / 1000).toFixed(1)} s, ${result.errors} refused`],
    });
    // No process died and no handler failed: no job may have needed a second attempt (a busy
    // worker taken for a dead one runs its jobs twice).
    expect(verdict.reasons).toEqual({});
  });
});
