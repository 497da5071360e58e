import { describe, expect, it } from 'vitest';
import { slowJob } from './support/jobs.ts';
import { scenarioPerTest, sleep } from './support/scenario.ts';

/**
 * The broker going away for every process at once, as a RabbitMQ restart looks from outside (the
 * machine's broker is shared, so a proxy of the test's own drops every connection instead).
 */
describe('RabbitMQ unreachable', () => {
  const startScenario = scenarioPerTest();

  it('every connection to the broker dropped for 8 s under load: the API answers throughout, nothing accepted is lost', async () => {
    const scenario = await startScenario('RabbitMQ unreachable for 8 s (every process)', { backend: 'rabbitmq', proxyBroker: true });
    const broker = scenario.amqpProxy!;
    const load = scenario.load({ total: 1_200, ratePerSecond: 100, mutation: slowJob(50) });
    await sleep(3_000);
    broker.drop();
    await sleep(8_000);
    broker.pass();
    const faultEndedAt = Date.now();
    const result = await load.done;
    const verdict = await scenario.finish(result.accepted, {
      faultEndedAt,
      notes: [`${result.errors} requests refused`, `connections dropped: ${broker.stats().dropped}`],
    });
    // The ledger, not the broker, is the truth: no request was refused while the broker was away.
    expect(result.errors).toBe(0);
    expect(verdict.completed).toBe(result.accepted.length);
  });
});
