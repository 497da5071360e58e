import { describe, expect, it } from 'vitest';
import * as cli from '../../src/cli/limits.ts';
import { MAX_DELAY_MS, MAX_TAGS, PRIORITY_RANGE } from '../../src/jobs/enqueue-options.ts';
import { BULK_LIMIT } from '../../src/jobs/job-filter.ts';

/**
 * The CLI checks its options by its own copy of the API's limits (src/cli/limits.ts), so that it
 * does not load zod with the job system's rules: the copy is the rules' numbers.
 */
describe("the CLI's limits", () => {
  it('are the job system’s: priority range, longest delay, most tags, bulk limit', () => {
    expect(cli.PRIORITY_RANGE).toEqual(PRIORITY_RANGE);
    expect(cli.MAX_DELAY_MS).toBe(MAX_DELAY_MS);
    expect(cli.MAX_TAGS).toBe(MAX_TAGS);
    expect(cli.BULK_LIMIT).toEqual(BULK_LIMIT);
  });
});
