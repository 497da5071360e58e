import { describe, it } from 'vitest';
import { slowJob } from './support/jobs.ts';
import { scenarioPerTest, sleep, type Backend } from './support/scenario.ts';

/**
 * A network that fails between the workers and their services: a TCP proxy of the test's own in
 * front of Redis, of PostgreSQL (and of RabbitMQ) delays every packet by 500 ms, then drops every
 * connection.
 */
describe.each<Backend>(['bullmq', 'pgboss', 'rabbitmq'])('a failing network between workers and services on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('no job completed twice, none stuck, none lost', async () => {
    const scenario = await startScenario('proxy: 500 ms delay, then drops, worker ↔ Redis, PostgreSQL, RabbitMQ', { backend, proxyWorkers: true });
    const proxies = [scenario.redisProxy!, scenario.pgProxy!, ...(scenario.amqpProxy ? [scenario.amqpProxy] : [])];
    const load = scenario.load({ total: 1_200, ratePerSecond: 75, mutation: slowJob(50) });
    await sleep(3_000);
    for (const proxy of proxies) proxy.delay(500);
    await sleep(5_000);
    for (const proxy of proxies) proxy.drop();
    await sleep(3_000);
    for (const proxy of proxies) proxy.pass();
    const faultEndedAt = Date.now();
    const result = await load.done;
    await scenario.finish(result.accepted, {
      faultEndedAt,
      timeoutMs: 120_000,
      notes: [`connections dropped: ${proxies.map((p) => p.stats().dropped).join(' + ')}`],
    });
  });
});
