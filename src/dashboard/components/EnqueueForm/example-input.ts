import type { JsonSchema, TaskInfo } from '../../api/operations.ts';

/** Inputs worth showing for the demo tasks: a count that can be watched as it runs. */
const EXAMPLES: Record<string, unknown> = {
  'demo.countWords': { text: 'one two three four five six seven eight', chunkSize: 1, pauseMs: 400 },
};

/** A first input for a task: its example, else its JSON Schema's defaults and required fields. */
export function exampleInput(task: TaskInfo): unknown {
  return EXAMPLES[task.name] ?? exampleOf(task.inputSchema);
}

function exampleOf(schema: JsonSchema): unknown {
  if (schema.default !== undefined) return schema.default;
  if (schema.enum?.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const required = new Set(schema.required ?? []);
      const entries = Object.entries(schema.properties ?? {}).filter(([key, property]) => required.has(key) || property.default !== undefined);
      return Object.fromEntries(entries.map(([key, property]) => [key, exampleOf(property)]));
    }
    case 'string':
      return '';
    case 'integer':
    case 'number':
      return schema.minimum ?? 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    default:
      return null;
  }
}
