import type { LlmAnswer, LlmClient, LlmMethod, LlmUsage } from './llm/client.ts';
import type { AnswerOf, LlmRequest } from './llm/requests.ts';
import type { Run } from './run.ts';

/**
 * Asks the LLM once per item, in order, stopping between asks when the run is aborted, and
 * reports progress up to 95 % with the message `use` gives for each answer (`position`: "3 of
 * 40"). Returns what `use` made of every answer, with what a result reports of the LLM: the
 * method, the last model that answered and the usage summed.
 */
export async function askEach<T, R extends LlmRequest, U>(
  llm: LlmClient,
  run: Run,
  items: readonly T[],
  request: (item: T) => R,
  use: (item: T, answer: LlmAnswer<AnswerOf<R>>, asked: R, position: string) => { result: U; message: string },
): Promise<{ results: U[]; method: LlmMethod; model: string; usage: LlmUsage }> {
  const usage = { promptTokens: 0, completionTokens: 0 };
  let model = '';
  const results: U[] = [];
  for (const [i, item] of items.entries()) {
    run.signal.throwIfAborted();
    const asked = request(item);
    const answer = await llm.complete(asked, { signal: run.signal });
    model = answer.model;
    usage.promptTokens += answer.usage.promptTokens;
    usage.completionTokens += answer.usage.completionTokens;
    const { result, message } = use(item, answer, asked, `${i + 1} of ${items.length}`);
    results.push(result);
    await run.progress(((i + 1) / items.length) * 95, message);
  }
  return { results, method: llm.method, model, usage };
}
