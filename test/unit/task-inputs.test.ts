/**
 * The zod → GraphQL mapping without services: a task's input schema becomes its mutation's input
 * type (scalars, enums, lists, nested inputs, JSON for the rest), and GraphQL errors name fields.
 */
import { getNamedType, GraphQLEnumType, GraphQLInputObjectType, GraphQLList, GraphQLNonNull, type GraphQLType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildSchema } from '../../src/api/schema/index.ts';
import { defineTask } from '../../src/jobs/task.ts';
import { TaskRegistry } from '../../src/jobs/task-registry.ts';
import { fieldIssues } from '../../src/lib/issues.ts';

const selectSamples = defineTask({
  name: 'sampling.selectSamples',
  phase: 'SAMPLE_SELECTION',
  input: z.object({
    reportId: z.string().describe('the report under test'),
    size: z.number().int().min(1),
    fraction: z.number().optional(),
    method: z.enum(['RANDOM', 'STRATIFIED', 'RISK_BASED']),
    strata: z.array(z.object({ name: z.string(), weight: z.number() })).optional(),
    seed: z.number().int().default(7),
    exact: z.boolean().nullable(),
    extra: z.record(z.string(), z.unknown()).optional(),
  }),
  async handler() {
    return null;
  },
});

const schema = buildSchema(new TaskRegistry([selectSamples]));

/** How an input type prints: `[Strata!]`, `Int!`, … */
function shape(type: GraphQLType): string {
  if (type instanceof GraphQLNonNull) return `${shape(type.ofType)}!`;
  if (type instanceof GraphQLList) return `[${shape(type.ofType)}]`;
  return getNamedType(type).name;
}

describe('task input types from zod', () => {
  const mutation = schema.getMutationType()!.getFields().selectSamples!;
  const input = getNamedType(mutation.args.find((arg) => arg.name === 'input')!.type) as GraphQLInputObjectType;
  const fields = input.getFields();

  it('makes one typed mutation per task, its input named after it', () => {
    expect(input.name).toBe('SelectSamplesInput');
    expect(shape(mutation.type)).toBe('JobPayload!');
  });

  it('maps scalars, requiredness, defaults and descriptions', () => {
    expect(shape(fields.reportId!.type)).toBe('String!');
    expect(fields.reportId!.description).toBe('the report under test');
    expect(shape(fields.size!.type)).toBe('Int!');
    expect(shape(fields.fraction!.type)).toBe('Float');
    // A default makes it optional for the caller; zod fills it in.
    expect(shape(fields.seed!.type)).toBe('Int');
    expect(shape(fields.exact!.type)).toBe('Boolean');
  });

  it('maps a string enum to a GraphQL enum, lists of objects to nested input types, and the rest to JSON', () => {
    const method = getNamedType(fields.method!.type);
    expect(method).toBeInstanceOf(GraphQLEnumType);
    expect((method as GraphQLEnumType).getValues().map((v) => v.name)).toEqual(['RANDOM', 'STRATIFIED', 'RISK_BASED']);
    expect(shape(fields.strata!.type)).toBe('[SelectSamplesInputStrataItem!]');
    const item = getNamedType(fields.strata!.type) as GraphQLInputObjectType;
    expect(Object.fromEntries(Object.entries(item.getFields()).map(([k, f]) => [k, shape(f.type)]))).toEqual({ name: 'String!', weight: 'Float!' });
    expect(shape(fields.extra!.type)).toBe('JSON');
  });

  it('names each invalid field by its path when zod refuses an input', () => {
    const parsed = selectSamples.input.safeParse({ reportId: 'r', size: 0, method: 'ALL', strata: [{ name: 's', weight: 'x' }], exact: null });
    expect(parsed.success).toBe(false);
    const issues = fieldIssues(parsed.error!);
    expect(issues.map((issue) => issue.path.join('.'))).toEqual(['size', 'method', 'strata.0.weight']);
  });
});
