/** The workflow's pure parts without services: rule checks, stratum allocation, the seeded PRNG and the demo records. */
import { describe, expect, it } from 'vitest';
import { DEMO_CATALOG, demoRecord } from '../../src/domain/demo-data.ts';
import { seededRandom, weightedChoice } from '../../src/domain/random.ts';
import { checkValue } from '../../src/domain/rule-checks.ts';
import { allocate } from '../../src/domain/sampling.ts';
import { LlmOutputError, LlmRateLimitedError } from '../../src/domain/llm/index.ts';
import { NotFoundError } from '../../src/domain/run.ts';
import { NonRetryableError, RetryAtError } from '../../src/jobs/errors.ts';
import { asJobErrors } from '../../src/tasks/domain-errors.ts';

describe('rule checks', () => {
  it('pass or fail each kind with a reason, and leave missing values to NOT_NULL', () => {
    expect(checkValue({ kind: 'NOT_NULL', params: {} }, null)).toEqual({ passed: false, message: 'value is missing' });
    expect(checkValue({ kind: 'RANGE', params: { min: 0, max: 1 } }, 1.5)).toEqual({ passed: false, message: '1.5 is above 1' });
    expect(checkValue({ kind: 'RANGE', params: { min: 0 } }, '-3')).toEqual({ passed: false, message: '-3 is below 0' });
    expect(checkValue({ kind: 'RANGE', params: { min: 0 } }, null).passed).toBe(true);
    expect(checkValue({ kind: 'PATTERN', params: { regex: '^[A-Z]{3}$' } }, 'usd')).toMatchObject({ passed: false });
    expect(checkValue({ kind: 'PATTERN', params: { regex: '([' } }, 'x').message).toMatch(/not a valid regular expression/);
    expect(checkValue({ kind: 'ALLOWED_VALUES', params: { values: ['A', 'B'] } }, 'C')).toEqual({ passed: false, message: '"C" is not one of A, B' });
    expect(checkValue({ kind: 'UNIQUE', params: {} }, 'L1', 2)).toEqual({ passed: false, message: '"L1" appears in 2 records' });
    expect(checkValue({ kind: 'UNIQUE', params: {} }, 'L1', 1).passed).toBe(true);
    expect(checkValue({ kind: 'MAX_LENGTH', params: { max: 3 } }, 'abcd')).toEqual({ passed: false, message: '4 characters, more than 3' });
  });
});

describe('sampling', () => {
  it('allocates strata in proportion, summing to the size, never above a stratum', () => {
    expect(allocate([['a', 50], ['b', 30], ['c', 20]], 10)).toEqual([['a', 5], ['b', 3], ['c', 2]]);
    expect(allocate([['a', 1], ['b', 1], ['c', 98]], 3)).toEqual([['a', 0], ['b', 0], ['c', 3]]);
    expect(allocate([['a', 2], ['b', 2]], 4)).toEqual([['a', 2], ['b', 2]]);
    const quotas = allocate([['a', 333], ['b', 333], ['c', 334]], 100);
    expect(quotas.reduce((n, [, q]) => n + q, 0)).toBe(100);
  });

  it('chooses the same rows for the same seed, others for another, and favours weight', () => {
    const rows = Array.from({ length: 1_000 }, (_, i) => ({ row: i + 1, weight: i < 100 ? 20 : 1 }));
    const a = weightedChoice(rows, 50, seededRandom(42));
    expect(weightedChoice(rows, 50, seededRandom(42))).toEqual(a);
    expect(weightedChoice(rows, 50, seededRandom(43))).not.toEqual(a);
    expect(new Set(a).size).toBe(50);
    // A tenth of the rows carry two thirds of the weight: most of the sample comes from them.
    expect(a.filter((row) => row <= 100).length).toBeGreaterThan(25);
  });
});

describe('demo data', () => {
  it('makes the same record for the same row, with about 100 catalog elements', () => {
    expect(demoRecord(12_345)).toEqual(demoRecord(12_345));
    expect(demoRecord(1)).not.toEqual(demoRecord(2));
    expect(DEMO_CATALOG.length).toBeGreaterThanOrEqual(95);
    expect(new Set(DEMO_CATALOG.map((e) => `${e.table}.${e.column}`)).size).toBe(DEMO_CATALOG.length);
  });
});

describe('domain errors as job errors', () => {
  it('retries at the time a provider gives, fails at once for what retrying cannot fix, passes the rest', async () => {
    const at = new Date(Date.now() + 7_000);
    await expect(asJobErrors(() => Promise.reject(new LlmRateLimitedError(at)))).rejects.toSatisfy((e) => e instanceof RetryAtError && e.at.getTime() === at.getTime());
    await expect(asJobErrors(() => Promise.reject(new NotFoundError('report', 'x')))).rejects.toSatisfy((e) => e instanceof NonRetryableError && (e as NonRetryableError).code === 'NOT_FOUND');
    await expect(asJobErrors(() => Promise.reject(new LlmOutputError('rules', 3, [])))).rejects.toBeInstanceOf(NonRetryableError);
    const plain = new Error('connection reset');
    await expect(asJobErrors(() => Promise.reject(plain))).rejects.toBe(plain);
  });
});
