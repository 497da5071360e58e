import SchemaBuilder from '@pothos/core';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Viewer } from '../auth.ts';
import type { LiveJobs } from '../live.ts';
import type { JobService } from '../../jobs/service.ts';
import type { WorkflowReads } from '../../domain/queries.ts';

/** What every resolver gets: the job system, the caller (undefined = anonymous) and the live feed. */
export interface ApiContext {
  system: JobService;
  /** What the workflow's queries read (src/domain/queries.ts). */
  workflow: WorkflowReads;
  viewer: Viewer | undefined;
  live: LiveJobs;
}

/** The one SchemaBuilder; each domain file adds its types to it. */
export const builder = new SchemaBuilder<{
  Context: ApiContext;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
  };
}>({ defaultFieldNullability: false });

builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('DateTime', DateTimeResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
