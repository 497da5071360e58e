import { builder } from './builder.ts';

const made = new Map<string, { values: string; type: ReturnType<typeof builder.enumType> }>();

/**
 * A GraphQL enum by name, made once: a task input (zod `.meta({ title })`) and a workflow type
 * that share an enum (SampleMethod) share one GraphQL type.
 */
export function namedEnum(name: string, values: readonly string[]) {
  const key = values.join(',');
  const existing = made.get(name);
  if (existing) {
    if (existing.values !== key) throw new Error(`enum ${name} is defined twice with different values: ${existing.values} and ${key}`);
    return existing.type;
  }
  const type = builder.enumType(name, { values: [...values] });
  made.set(name, { values: key, type });
  return type;
}
