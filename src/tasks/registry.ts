import type { AnyTask } from '../jobs/task.ts';
import { TaskRegistry } from '../jobs/task-registry.ts';
import { countWords } from './demo.ts';

export { TaskRegistry };

/** The one list of the application's tasks. Add a task here to expose it. */
const appTasks: readonly AnyTask[] = [countWords];

export function createTaskRegistry(extra: readonly AnyTask[] = []): TaskRegistry {
  return new TaskRegistry([...appTasks, ...extra]);
}
