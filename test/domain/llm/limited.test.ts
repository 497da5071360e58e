import { describe, expect, it } from 'vitest';
import type { LlmAnswer, LlmClient } from '../../../src/domain/llm/client.ts';
import { createLlmClient } from '../../../src/domain/llm/index.ts';
import { limitConcurrency } from '../../../src/domain/llm/limited.ts';
import { scopingRequest, type AnswerOf, type LlmRequest } from '../../../src/domain/llm/requests.ts';

/** A client whose calls finish when the test says so, counting how many run at once. */
function gatedClient() {
  const gates: { release: () => void; fail: (error: Error) => void }[] = [];
  const state = { inFlight: 0, most: 0, started: 0 };
  const client: LlmClient = {
    method: 'LLM',
    async complete<R extends LlmRequest>(_request: R): Promise<LlmAnswer<AnswerOf<R>>> {
      state.started++;
      state.inFlight++;
      state.most = Math.max(state.most, state.inFlight);
      try {
        await new Promise<void>((resolve, reject) => gates.push({ release: resolve, fail: reject }));
      } finally {
        state.inFlight--;
      }
      const value = { decision: 'IN_SCOPE', riskScore: 1, rationale: 'test' } as AnswerOf<R>;
      return { value, method: 'LLM', model: 'fake', usage: { promptTokens: 1, completionTokens: 1 } };
    },
  };
  return { client, gates, state };
}

const request = scopingRequest(
  { name: 'R', regulation: 'X', description: '' },
  { name: 'Loan Amount', description: '', dataType: 'DECIMAL', isKey: false, isCritical: true },
  [],
);
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('limitConcurrency', () => {
  it('holds at most n calls in flight and serves the rest in order as slots free', async () => {
    const { client, gates, state } = gatedClient();
    const limited = limitConcurrency(client, 3);
    expect(limited.method).toBe('LLM');
    const calls = Array.from({ length: 10 }, () => limited.complete(request));

    for (let done = 0; done < 10; ) {
      await tick();
      expect(state.inFlight).toBe(Math.min(3, 10 - done));
      gates[done]!.release();
      done++;
    }
    const answers = await Promise.all(calls);
    expect(answers).toHaveLength(10);
    expect(state.most).toBe(3);
  });

  it('frees the slot of a call that fails', async () => {
    const { client, gates, state } = gatedClient();
    const limited = limitConcurrency(client, 1);
    const failing = limited.complete(request);
    const next = limited.complete(request);
    await tick();
    expect(state.started).toBe(1);
    gates[0]!.fail(new Error('boom'));
    await expect(failing).rejects.toThrow('boom');
    await tick();
    expect(state.started).toBe(2);
    gates[1]!.release();
    await expect(next).resolves.toMatchObject({ model: 'fake' });
  });

  it('lets a caller whose signal aborts leave the queue at once, without losing a slot', async () => {
    const { client, gates, state } = gatedClient();
    const limited = limitConcurrency(client, 1);
    const first = limited.complete(request);
    const controller = new AbortController();
    const waiting = limited.complete(request, { signal: controller.signal });
    const third = limited.complete(request);
    await tick();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);

    gates[0]!.release();
    await first;
    await tick();
    expect(state.started).toBe(2); // the third ran, the aborted one never did
    gates[1]!.release();
    await third;
    expect(state.most).toBe(1);
    expect(state.inFlight).toBe(0);
  });

  it('refuses a limit below 1', () => {
    const { client } = gatedClient();
    expect(() => limitConcurrency(client, 0)).toThrow(RangeError);
    expect(() => limitConcurrency(client, 1.5)).toThrow(RangeError);
  });
});

describe('createLlmClient', () => {
  it('is the heuristic without LLM_BASE_URL, the OpenAI-compatible client with it', async () => {
    const heuristic = createLlmClient({ LLM_CONCURRENCY: 2 });
    expect(heuristic.method).toBe('HEURISTIC');
    expect((await heuristic.complete(request)).value.decision).toBe('IN_SCOPE');

    const llm = createLlmClient({ LLM_BASE_URL: 'http://localhost:11434/v1', LLM_MODEL: 'llama3.1:8b', LLM_CONCURRENCY: 2 });
    expect(llm.method).toBe('LLM');
  });

  it('refuses LLM_BASE_URL without LLM_MODEL, and a concurrency below 1', () => {
    expect(() => createLlmClient({ LLM_BASE_URL: 'http://localhost:11434/v1', LLM_CONCURRENCY: 1 })).toThrow(/LLM_MODEL/);
    expect(() => createLlmClient({ LLM_CONCURRENCY: 0 })).toThrow(RangeError);
  });
});
