import { z } from 'zod';
import { requireRole, requireViewer } from '../auth.ts';
import type { AnyTask } from '../../jobs/task.ts';
import type { TaskCatalog } from '../../jobs/task-registry.ts';
import { builder } from './builder.ts';
import { namedEnum } from './enums.ts';
import { enqueueFor, JobPayloadRef, PhaseEnum } from './jobs.ts';

/**
 * The task registry in the schema: `tasks` lists it, and every task gets its own typed mutation,
 * e.g. `countWords(input: CountWordsInput!): JobPayload!`, whose input type is derived from the
 * task's zod schema. A task defined once is exposed once.
 */
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  title?: string;
  description?: string;
  default?: unknown;
  additionalProperties?: unknown;
}

function mutationName(task: AnyTask): string {
  return task.mutation ?? task.name.split('.').at(-1)!;
}

const pascal = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

function inputJsonSchema(task: AnyTask): JsonSchema {
  return z.toJSONSchema(task.input, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** The GraphQL input type for a JSON Schema: scalars, enums, lists and input objects; JSON for the rest. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- types are built at run time from the registry
function graphqlTypeOf(schema: JsonSchema, typeName: string): any {
  const types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  if (types.length !== 1) return 'JSON';
  switch (types[0]) {
    case 'string':
      if (schema.enum?.every((v) => typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v))) {
        return namedEnum(schema.title ?? typeName, schema.enum as string[]);
      }
      return 'String';
    case 'integer':
      return 'Int';
    case 'number':
      return 'Float';
    case 'boolean':
      return 'Boolean';
    case 'array': {
      const inner = schema.items ? graphqlTypeOf(schema.items, `${typeName}Item`) : 'JSON';
      return [inner];
    }
    case 'object': {
      if (!schema.properties || Object.keys(schema.properties).length === 0) return 'JSON';
      const properties = schema.properties;
      const required = new Set(schema.required ?? []);
      return builder.inputType(typeName, {
        fields: (t) =>
          Object.fromEntries(
            Object.entries(properties).map(([key, property]) => {
              const type = graphqlTypeOf(property, `${typeName}${pascal(key)}`);
              const nullable = Array.isArray(property.type) && property.type.includes('null');
              return [
                key,
                t.field({
                  type,
                  required: required.has(key) && !nullable && type !== 'JSON',
                  ...(property.description ? { description: property.description } : {}),
                }),
              ];
            }),
          ),
      });
    }
    default:
      return 'JSON';
  }
}

/** GraphQL sends absent optional fields as null; zod's optional() means undefined. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, dropNulls(v)]));
  }
  return value;
}

const TaskInfoRef = builder.objectRef<AnyTask>('TaskInfo').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    phase: t.expose('phase', { type: PhaseEnum }),
    description: t.string({ nullable: true, resolve: (task) => task.description ?? null }),
    mutation: t.string({ description: 'The typed mutation that enqueues this task.', resolve: mutationName }),
    inputSchema: t.field({ type: 'JSON', description: 'JSON Schema of the input.', resolve: inputJsonSchema }),
    maxAttempts: t.int({ nullable: true, description: 'Null: MAX_ATTEMPTS applies.', resolve: (task) => task.maxAttempts ?? null }),
    backoffBaseMs: t.int({ nullable: true, description: 'Null: RETRY_BASE_MS applies.', resolve: (task) => task.backoff?.baseMs ?? null }),
    timeoutMs: t.int({ nullable: true, resolve: (task) => task.timeoutMs ?? null }),
    concurrency: t.int({ nullable: true, resolve: (task) => task.concurrency ?? null }),
  }),
});

/** Adds `tasks` and one typed mutation per task of `registry`. */
export function addTaskFields(registry: TaskCatalog): void {
  builder.queryFields((t) => ({
    tasks: t.field({
      type: [TaskInfoRef],
      resolve: (_, __, ctx) => {
        requireViewer(ctx.viewer);
        return ctx.system.tasks.list();
      },
    }),
  }));

  for (const task of registry.list()) {
    const name = mutationName(task);
    const inputType = graphqlTypeOf(inputJsonSchema(task), `${pascal(name)}Input`);
    builder.mutationField(name, (t) =>
      t.field({
        type: JobPayloadRef,
        description: task.description ?? `Queues a ${task.name} job.`,
        args: {
          input: t.arg({ type: inputType, required: true }),
          idempotencyKey: t.arg.string(),
          delayMs: t.arg.int(),
          priority: t.arg.int(),
          tags: t.arg.stringList(),
        },
        resolve: (_, args, ctx) => {
          const viewer = requireRole(ctx.viewer, 'operator');
          return enqueueFor(ctx.system, viewer, task.name, dropNulls(args.input), args, 'input');
        },
      }),
    );
  }
}
