/**
 * Paid work is not paid twice: an LLM step that loses an attempt half-way asks, on its retry, only
 * what was not answered yet (its answers are in its checkpoint), and says so in its result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createHeuristicClient } from '../../src/domain/llm/heuristic.ts';
import type { LlmClient } from '../../src/domain/llm/client.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

/**
 * A paid provider, as far as the step can tell (method LLM, tokens counted), answering with the
 * heuristic's answers; it counts what it is asked, and its `failOnCall`-th call fails once (a 503).
 */
function countingClient(failOnCall: number) {
  const heuristic = createHeuristicClient();
  const answered: string[] = [];
  let calls = 0;
  const client: LlmClient = {
    method: 'LLM',
    async complete(request, opts) {
      calls++;
      if (calls === failOnCall) throw new Error('503 Service Unavailable');
      const answer = await heuristic.complete(request, opts);
      answered.push(createHash('sha256').update(JSON.stringify(request)).digest('hex'));
      // Tokens as a provider would count them, so the result's usage can be checked.
      return { ...answer, method: 'LLM', model: 'counting', usage: { promptTokens: 10, completionTokens: 5 } };
    },
  };
  return { client, answered, calls: () => calls };
}

describe('an LLM step retried after a failure half-way', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  const llm = countingClient(3);

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('llm') }));
    system = await harness.start({}, { deps: { llm: createHeuristicClient() } });
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  it('asks only what its first attempt did not get answered, and reports what it reused', async () => {
    const finish = async (type: string, input: unknown, s: JobSystem = system) => {
      const job = await waitForJob(s, (await s.enqueue(type, input)).job.id, undefined, 60_000);
      expect(job.status, `${type}: ${job.errorMessage}`).toBe('COMPLETED');
      return job;
    };
    await finish('demo.seedDemoData', { records: 200 });
    const [report] = await system.db.prisma.report.findMany();
    await finish('planning.generateLlmAttributes', { reportId: report!.id });
    const attributes = await system.db.prisma.attribute.count({ where: { reportId: report!.id } });
    expect(attributes).toBeGreaterThan(3);

    // A second system on the same ledger and queue name: its worker has the counting client.
    const counted = await harness.start({}, { deps: { llm: llm.client } });
    await system.stop();
    const job = await finish('scoping.generateScopingRecommendations', { reportId: report!.id }, counted);
    expect(job.attempt).toBe(2);
    // Two answered, the third failed; the retry asked the rest and nothing twice.
    expect(new Set(llm.answered).size).toBe(llm.answered.length);
    expect(llm.answered).toHaveLength(attributes);
    expect(llm.calls()).toBe(attributes + 1);
    expect(job.result).toMatchObject({ calls: attributes - 2, resumedAnswers: 2, inScope: expect.any(Number) });
    // Usage counts every answer the result rests on, the resumed ones too (they were paid for once).
    expect(job.result).toMatchObject({ usage: { promptTokens: 10 * attributes, completionTokens: 5 * attributes } });
  });
});
