import type { GraphQLSchema } from 'graphql';
import type { TaskCatalog } from '../../jobs/task-registry.ts';
import { builder } from './builder.ts';
import './jobs.ts';
import './queue.ts';
import './workflow.ts';
import './runs.ts';
import './limits.ts';
import './schedules.ts';
import './me.ts';
import { addTaskFields } from './tasks.ts';

let built: { registry: TaskCatalog; schema: GraphQLSchema } | undefined;

/**
 * The API schema for a task registry. The builder is one per process, so the schema is built once;
 * asking again for another registry is a mistake worth an error.
 */
export function buildSchema(registry: TaskCatalog): GraphQLSchema {
  if (built) {
    if (built.registry !== registry) throw new Error('buildSchema: the schema is already built for another task registry');
    return built.schema;
  }
  addTaskFields(registry);
  built = { registry, schema: builder.toSchema({ sortSchema: false }) };
  return built.schema;
}
