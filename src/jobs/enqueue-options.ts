/**
 * The rule for an enqueue's options, once: the job service checks it, and the API and the CLI
 * check their arguments by it before they ask (so their errors name their own fields).
 */
import { z } from 'zod';
import { PRIORITY_RANGE } from '../adapters/types.ts';
import { fieldIssues, type FieldIssue } from '../lib/issues.ts';

export { PRIORITY_RANGE };

/** The longest delay an enqueue may ask for. */
export const MAX_DELAY_MS = 365 * 24 * 3_600_000;
/** The longest idempotency key, in characters. */
export const MAX_IDEMPOTENCY_KEY = 200;
/** How many tags an enqueue may give, and the longest one. */
export const MAX_TAGS = 20;
export const MAX_TAG = 100;

const KEY = `idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`;
const DELAY = 'delayMs must be a whole number between 0 and one year';
const TAGS = `tags must be at most ${MAX_TAGS} strings of 1 to ${MAX_TAG} characters`;
/** What a list of tags may be: an enqueue's, and a filter's (job-filter.ts). */
export const tagList = z.array(z.string(TAGS).min(1, TAGS).max(MAX_TAG, TAGS), TAGS).max(MAX_TAGS, TAGS);
const PRIORITY = `priority must be a whole number between ${PRIORITY_RANGE.min} and ${PRIORITY_RANGE.max}`;

const enqueueOptions = z.object({
  idempotencyKey: z.string(KEY).min(1, KEY).max(MAX_IDEMPOTENCY_KEY, KEY).nullish(),
  delayMs: z.number(DELAY).int(DELAY).min(0, DELAY).max(MAX_DELAY_MS, DELAY).nullish(),
  priority: z.number(PRIORITY).int(PRIORITY).min(PRIORITY_RANGE.min, PRIORITY).max(PRIORITY_RANGE.max, PRIORITY).nullish(),
  tags: tagList.nullish(),
});

/** What is wrong with these options, each issue under its option's name; none when they fit. */
export function optionIssues(opts: {
  idempotencyKey?: string | null | undefined;
  delayMs?: number | null | undefined;
  priority?: number | null | undefined;
  tags?: readonly string[] | null | undefined;
}): FieldIssue[] {
  const parsed = enqueueOptions.safeParse({ idempotencyKey: opts.idempotencyKey, delayMs: opts.delayMs, priority: opts.priority, tags: opts.tags });
  return parsed.success ? [] : fieldIssues(parsed.error);
}
