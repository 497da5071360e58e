/**
 * What the application's tasks get from the job system as ctx.deps: the LLM client. Declared on
 * the core's TaskDeps by module augmentation, so the core stays ignorant of it and tests can hand
 * a task a fake.
 */
import type { LlmClient } from '../domain/llm/index.ts';
import { createLlmClient, type LlmSettings } from '../domain/llm/index.ts';
import type { TaskDeps } from '../jobs/task.ts';

declare module '../jobs/task.ts' {
  interface TaskDeps {
    llm: LlmClient;
  }
}

export function createTaskDeps(settings: LlmSettings): TaskDeps {
  return { llm: createLlmClient(settings) };
}
