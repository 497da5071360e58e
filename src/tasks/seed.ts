import { z } from 'zod';
import { DEMO_RECORDS, seedDemo } from '../domain/seed.ts';
import { defineTask } from '../jobs/task.ts';

/** Loads the demo report, catalog and dataset; what the embedded first start enqueues. Resumes where it stopped. */
export const seedDemoData = defineTask({
  name: 'demo.seedDemoData',
  phase: 'PLANNING',
  description: 'Loads the demo: a report, a data catalog of about 100 elements and a dataset of seeded loan records.',
  input: z.object({ records: z.number().int().min(1).max(1_000_000).default(DEMO_RECORDS) }),
  maxAttempts: 5,
  backoff: { baseMs: 2_000 },
  handler: ({ records }, ctx) => seedDemo(ctx.db, ctx.sql, ctx, records),
});
