import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { LlmAnswer, LlmClient, LlmMethod, LlmUsage } from './llm/client.ts';
import type { AnswerOf, LlmRequest } from './llm/requests.ts';
import type { Run } from './run.ts';

/**
 * What askEach saves after every answer (the run's checkpoint, when it keeps one): each answer by
 * the request it answers, so a retry after a lost worker, a timeout or a rate limit asks only what
 * was not answered yet. Keyed by the request itself: an item whose request changed meanwhile (its
 * data did) is asked again.
 */
const askedState = z.object({
  answers: z.array(z.object({ request: z.string(), answer: z.object({ value: z.unknown(), method: z.string(), model: z.string(), usage: z.object({ promptTokens: z.number(), completionTokens: z.number() }) }) })),
});
export type AskedState = z.infer<typeof askedState>;

/** A run that may keep a checkpoint (a job's context does; a test's run need not). */
export type AskingRun = Run & { resumeFrom?: unknown; checkpoint?(state: AskedState): Promise<void> };

/** What a result reports of the LLM: the method, the last model, tokens paid for (every attempt's), calls made by this attempt, answers it took from the last attempt's checkpoint. */
export interface LlmReport {
  method: LlmMethod;
  model: string;
  usage: LlmUsage;
  calls: number;
  resumedAnswers: number;
}

/**
 * Asks the LLM once per item, in order, stopping between asks when the run is aborted, and
 * reports progress up to 95 % with the message `use` gives for each answer (`position`: "3 of
 * 40"). Returns what `use` made of every answer, with what a result reports of the LLM. Answers
 * the run's checkpoint already holds are not asked again; each new paid (LLM) answer is saved as
 * it comes.
 */
export async function askEach<T, R extends LlmRequest, U>(
  llm: LlmClient,
  run: AskingRun,
  items: readonly T[],
  request: (item: T) => R,
  use: (item: T, answer: LlmAnswer<AnswerOf<R>>, asked: R, position: string) => { result: U; message: string },
): Promise<{ results: U[] } & LlmReport> {
  const resumed = askedState.safeParse(run.resumeFrom);
  const saved = new Map(resumed.success ? resumed.data.answers.map((entry) => [entry.request, entry.answer]) : []);
  const state: AskedState = { answers: [] };
  const usage = { promptTokens: 0, completionTokens: 0 };
  let model = '';
  let calls = 0;
  let resumedAnswers = 0;
  const results: U[] = [];
  for (const [i, item] of items.entries()) {
    run.signal.throwIfAborted();
    const asked = request(item);
    const key = createHash('sha256').update(JSON.stringify(asked)).digest('base64url');
    let answer = saved.get(key) as LlmAnswer<AnswerOf<R>> | undefined;
    if (answer) {
      resumedAnswers++;
    } else {
      answer = await llm.complete(asked, { signal: run.signal });
      calls++;
    }
    state.answers.push({ request: key, answer });
    // A paid answer is saved before the next is asked; the offline heuristic's cost nothing to
    // make again, and a ledger write each would be most of its run time.
    if (run.checkpoint && !saved.has(key) && answer.method === 'LLM') await run.checkpoint(state);
    model = answer.model;
    usage.promptTokens += answer.usage.promptTokens;
    usage.completionTokens += answer.usage.completionTokens;
    const { result, message } = use(item, answer, asked, `${i + 1} of ${items.length}`);
    results.push(result);
    await run.progress(((i + 1) / items.length) * 95, message);
  }
  return { results, method: llm.method, model, usage, calls, resumedAnswers };
}

/** The LLM part of a phase's result. */
export function llmReport({ method, model, usage, calls, resumedAnswers }: LlmReport): LlmReport {
  return { method, model, usage, calls, resumedAnswers };
}
