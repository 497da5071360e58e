/**
 * What the application's tasks get from the job system as ctx.deps: the LLM client, spending the
 * deployment's shared `llm` limit. Declared on the core's TaskDeps by module augmentation, so the
 * core stays ignorant of it and tests can hand a task a fake.
 */
import type { CallBudget, LlmClient } from '../domain/llm/index.ts';
import { createLlmClient, type LlmSettings } from '../domain/llm/index.ts';
import type { Limits } from '../jobs/limits/limits.ts';
import type { CoreServices } from '../jobs/start.ts';
import type { TaskDeps } from '../jobs/task.ts';
import { llmLimit } from './limits.ts';

declare module '../jobs/task.ts' {
  interface TaskDeps {
    llm: LlmClient;
  }
}

/** For JobSystemOptions.deps: made once the core's limits exist. */
export function createTaskDeps(settings: LlmSettings): (core: CoreServices) => TaskDeps {
  return ({ limits }) => ({ llm: createLlmClient(settings, limits.has(llmLimit.name) ? budgetOf(limits, llmLimit.name) : undefined) });
}

/** One of the core's shared limits as the LLM client's budget. */
function budgetOf(limits: Limits, name: string): CallBudget {
  return {
    take: async (tokens, signal) => limits.take(name, { tokens, ...(signal ? { signal } : {}) }),
    pause: async (forMs, reason) => {
      await limits.pause(name, forMs, reason);
    },
  };
}
