/**
 * The API's limits that the CLI checks its options by before it asks, and names in its help. The
 * job system's rules (jobs/enqueue-options.ts, jobs/job-filter.ts) are zod schemas: importing them
 * would load zod (some 90 modules, about 55 ms of every command's start) for four numbers. So the
 * CLI keeps its copy, and test/cli/limits.test.ts fails when one differs from the rule's. The
 * priority range is the adapter contract's own (it loads nothing).
 */
export { PRIORITY_RANGE } from '../adapters/types.ts';

/** The longest delay an enqueue may ask for (enqueue-options.ts MAX_DELAY_MS). */
export const MAX_DELAY_MS = 365 * 24 * 3_600_000;
/** How many tags an enqueue may give (enqueue-options.ts MAX_TAGS). */
export const MAX_TAGS = 20;
/** A bulk action's --limit (job-filter.ts BULK_LIMIT). */
export const BULK_LIMIT = { default: 100, max: 1_000 } as const;
