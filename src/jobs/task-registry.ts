import { UnknownTaskError } from './errors.ts';
import type { AnyTask } from './task.ts';

/**
 * The set of tasks a process knows, by name. The core is handed one when it starts (src/tasks has
 * the application's list), as graphile-worker takes its task list: it never imports the tasks.
 */
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


/** The tasks as others may read them (the API builds its typed mutations from these). */
export type TaskCatalog = Pick<TaskRegistry, 'get' | 'has' | 'list'>;
