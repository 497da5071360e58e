import { UnknownTaskError } from '../jobs/errors.ts';
import type { AnyTask } from './define.ts';
import { countWords } from './demo.ts';

/** The set of tasks a process knows, by name. */
export class TaskRegistry {
  readonly #tasks = new Map<string, AnyTask>();

  constructor(tasks: readonly AnyTask[]) {
    for (const task of tasks) {
      if (this.#tasks.has(task.name)) throw new Error(`Task "${task.name}" is registered twice`);
      this.#tasks.set(task.name, task);
    }
  }

  get(name: string): AnyTask {
    const task = this.#tasks.get(name);
    if (!task) throw new UnknownTaskError(name);
    return task;
  }

  has(name: string): boolean {
    return this.#tasks.has(name);
  }

  list(): AnyTask[] {
    return [...this.#tasks.values()];
  }
}

/** The one list of the application's tasks. Add a task here to expose it. */
export const appTasks: readonly AnyTask[] = [countWords];

export function createTaskRegistry(extra: readonly AnyTask[] = []): TaskRegistry {
  return new TaskRegistry([...appTasks, ...extra]);
}
