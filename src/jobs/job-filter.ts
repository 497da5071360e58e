/**
 * The rule for a job filter, once: what a search or a bulk action's filter may hold, how many jobs
 * one bulk call acts on, and when a filter is too broad to act on. The job service checks it; the
 * API checks its arguments by it before it asks (so its errors name its own fields).
 *
 * A bulk action (cancelJobs, retryJobs) must be narrowed by what the jobs are — their ids, task,
 * phase, tags or input — or say `all: true`. Status, a creation time range and the owner do not
 * count: "every QUEUED job", "everything before now" and "all of mine" are all of them.
 */
import { z } from 'zod';
import { fieldIssues, type FieldIssue } from '../lib/issues.ts';
import { isUuid } from '../lib/uuid.ts';
import { tagList } from './enqueue-options.ts';
import type { JobFilter } from './ledger/index.ts';

export type { JobFilter };

/** How many jobs one bulk call acts on: `limit` by default, at most `max`. */
export const BULK_LIMIT = { default: 100, max: 1_000 } as const;
/** The most ids a filter may name (a page of selected rows, or a confirmed batch). */
export const MAX_FILTER_IDS = BULK_LIMIT.max;
/** The longest `input` a filter may hold, as JSON text. */
export const MAX_FILTER_INPUT = 10_000;

/** What a bulk call may say besides its filter. */
export interface BulkOptions {
  /** At most this many jobs (default BULK_LIMIT.default, at most BULK_LIMIT.max). */
  limit?: number | null;
  /** Who asks: each job's history says so. */
  by?: string | null;
  /** Act on a filter that narrows by nothing but status, time or owner. */
  all?: boolean | null;
  /** Only say which jobs the call would act on. */
  dryRun?: boolean | null;
}

/** What one bulk call did. */
export interface BulkResult {
  /** This call's batch: jobs matching the filter in a status the action applies to, at most `limit`, newest first. */
  matched: string[];
  /** Those the action changed: all of `matched` but jobs another writer moved meanwhile; none on a dry run. */
  changed: string[];
  /** More jobs match beyond this batch: call again (with the same filter) for the next one. */
  hasMore: boolean;
}

const IDS = `ids must be at most ${MAX_FILTER_IDS} job ids`;
const INPUT = `input must be a JSON object (its fields are matched by containment), at most ${MAX_FILTER_INPUT} characters`;

const filterSchema = z.object({
  ids: z
    .array(z.string().refine(isUuid, 'not a job id'), IDS)
    .max(MAX_FILTER_IDS, IDS)
    .optional(),
  tags: tagList.optional(),
  input: z
    .record(z.string(), z.unknown(), INPUT)
    .refine((value) => JSON.stringify(value).length <= MAX_FILTER_INPUT, INPUT)
    .optional(),
  type: z.string().max(200).optional(),
});

/** What is wrong with this filter, each issue under its field's name; none when it fits. */
export function filterIssues(filter: JobFilter): FieldIssue[] {
  const parsed = filterSchema.safeParse({ ids: filter.ids, tags: filter.tags, input: filter.input, type: filter.type });
  return parsed.success ? [] : fieldIssues(parsed.error);
}

/** Whether the filter names which jobs by what they are (ids, task, phase, tags, input). */
export function narrows(filter: JobFilter): boolean {
  return Boolean(filter.ids || filter.type || filter.phase || filter.tags?.length || (filter.input && Object.keys(filter.input).length > 0));
}

/**
 * What is wrong with a bulk call: its filter, its limit, or a filter too broad without `all`.
 * Paths name the filter's fields (`filter.tags.0`), the option (`limit`), or for a filter too
 * broad, the filter itself (`filter`).
 */
export function bulkIssues(filter: JobFilter, opts: BulkOptions): FieldIssue[] {
  const issues = filterIssues(filter).map((issue) => ({ ...issue, path: ['filter', ...issue.path] }));
  const limit = opts.limit;
  if (limit != null && (!Number.isInteger(limit) || limit < 1 || limit > BULK_LIMIT.max)) {
    issues.push({ path: ['limit'], message: `limit must be a whole number from 1 to ${BULK_LIMIT.max}` });
  }
  if (!opts.all && !narrows(filter)) {
    issues.push({
      path: ['filter'],
      message: 'the filter names no ids, task, phase, tags or input: it would act on every job of these statuses; narrow it, or say all: true',
    });
  }
  return issues;
}
