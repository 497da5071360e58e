import type { AnyTask } from '../jobs/task.ts';
import { TaskRegistry } from '../jobs/task-registry.ts';
import { countWords } from './demo.ts';
import { generateLlmAttributes, regeneratePdeMappings } from './planning.ts';
import { generateProfilingRules, profileDataset } from './profiling.ts';
import { selectSamples } from './sampling.ts';
import { generateScopingRecommendations } from './scoping.ts';
import { seedDemoData } from './seed.ts';
import { executeTests } from './testing.ts';
import type { AnyWorkflow } from '../jobs/runs/workflow.ts';
import { reportTesting } from './report-testing.ts';

export { TaskRegistry };

/** The one list of the application's tasks. Add a task here to expose it. */
const appTasks: readonly AnyTask[] = [
  countWords,
  seedDemoData,
  generateLlmAttributes,
  regeneratePdeMappings,
  generateScopingRecommendations,
  selectSamples,
  generateProfilingRules,
  profileDataset,
  executeTests,
];

export function createTaskRegistry(extra: readonly AnyTask[] = []): TaskRegistry {
  return new TaskRegistry([...appTasks, ...extra]);
}

export { appLimits } from './limits.ts';
export { appSchedules } from './schedules.ts';

/** The one list of the application's workflows (their steps' tasks are in the list above). */
export const appWorkflows: readonly AnyWorkflow[] = [reportTesting];
