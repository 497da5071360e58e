import { describe, expect, it, vi } from 'vitest';
import { Batcher } from '../../src/lib/batcher.ts';
import { CodedError, errorText } from '../../src/lib/errors.ts';
import { Semaphore } from '../../src/lib/semaphore.ts';
import { formatPeriod, parsePeriod } from '../../src/lib/duration.ts';
import { isUuid, timeOrderedUuid } from '../../src/lib/uuid.ts';
import { Rounds } from '../../src/lib/rounds.ts';
import { withTimeout } from '../../src/lib/timeouts.ts';
import { describeIssues, fieldIssues } from '../../src/lib/issues.ts';
import { z } from 'zod';
import { isConflict, isConnectionError, retryOnConflict } from '../../src/db/conflicts.ts';
import { retryDelayMs } from '../../src/jobs/retry.ts';

/** The generic helpers, without any service: these run in milliseconds. */
describe('Batcher', () => {
  it('writes the items added in one tick with one call, and answers each with its own result', async () => {
    const calls: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      calls.push(items);
      return items.map((n) => n * 10);
    });
    expect(await Promise.all([1, 2, 3].map((n) => batcher.add(n)))).toEqual([10, 20, 30]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('fails every item of a failed write, and goes on with the next batch', async () => {
    let first = true;
    const batcher = new Batcher<string, string>(async (items) => {
      if (first) {
        first = false;
        throw new Error('deadlock detected');
      }
      return items;
    });
    const failed = await Promise.allSettled([batcher.add('a'), batcher.add('b')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batcher.add('c')).toBe('c');
  });

  it('keeps batches in order with one writer in flight, and splits at maxBatch', async () => {
    const calls: number[][] = [];
    const batcher = new Batcher<number>(
      async (items) => {
        calls.push(items);
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
      { maxBatch: 2 },
    );
    await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.add(n)));
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('Semaphore', () => {
  it('holds the limit, serves waiters in arrival order, and ignores a second release', async () => {
    const semaphore = new Semaphore(2);
    const a = await semaphore.acquire();
    const b = await semaphore.acquire();
    const order: string[] = [];
    const c = semaphore.acquire().then((release) => (order.push('c'), release));
    const d = semaphore.acquire().then((release) => (order.push('d'), release));
    expect(semaphore.inUse).toBe(2);
    a();
    a(); // twice: must not free a second slot
    await c;
    expect(order).toEqual(['c']);
    b();
    await d;
    expect(order).toEqual(['c', 'd']);
    expect(semaphore.inUse).toBe(2);
  });

  it('lets an aborted acquirer go without a slot, and passes a release to the next acquirer before any watcher', async () => {
    const semaphore = new Semaphore(1);
    const held = semaphore.tryAcquire()!;
    expect(semaphore.tryAcquire()).toBeUndefined();
    const abort = new AbortController();
    const abandoned = semaphore.acquire(abort.signal);
    const watched = vi.fn();
    void semaphore.whenAvailable().then(watched);
    const next = semaphore.acquire();
    abort.abort(new Error('gave up'));
    await expect(abandoned).rejects.toThrow('gave up');
    held();
    const release = await next; // the slot went to the waiting acquirer, not the watcher
    await Promise.resolve();
    expect(watched).not.toHaveBeenCalled();
    expect(semaphore.inUse).toBe(1);
    release({ wakeWatcher: false }); // free, but the watcher is not told
    await Promise.resolve();
    expect(watched).not.toHaveBeenCalled();
    expect(semaphore.inUse).toBe(0);
    semaphore.tryAcquire()!();
    await vi.waitFor(() => expect(watched).toHaveBeenCalledOnce());
    const stop = new AbortController();
    semaphore.tryAcquire();
    const stopped = semaphore.whenAvailable(stop.signal);
    stop.abort();
    await stopped; // resolves on abort, slot or not
  });
});

describe('withTimeout', () => {
  it('answers with the promise when it is in time, and rejects with the named timeout when not', async () => {
    expect(await withTimeout(Promise.resolve(7), 50, 'quick')).toBe(7);
    await expect(withTimeout(new Promise(() => {}), 20, 'enqueue')).rejects.toThrow('enqueue timed out after 20 ms');
    await expect(withTimeout(new Promise(() => {}), 20, () => new RangeError('custom'))).rejects.toThrow(RangeError);
  });
});

describe('errors', () => {
  it('CodedError keeps its code and subclass name; errorText reads anything thrown', () => {
    class Refused extends CodedError {}
    const error = new Refused('REFUSED', 'no');
    expect([error.code, error.name, error.message]).toEqual(['REFUSED', 'Refused', 'no']);
    expect(errorText(new Error(''))).toBe('Error');
    expect(errorText({ message: 'from a plain object' })).toBe('from a plain object');
    expect(errorText(42)).toBe('42');
  });

  it('tells a lost race (run again) from an unreachable database (maybe committed)', async () => {
    expect(isConflict({ code: '40P01' })).toBe(true);
    expect(isConflict({ code: '23505' })).toBe(false);
    expect(isConnectionError({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError({ code: '40P01' })).toBe(false);
    let runs = 0;
    const value = await retryOnConflict(async () => {
      runs++;
      if (runs < 3) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      return 'done';
    });
    expect([value, runs]).toEqual(['done', 3]);
    await expect(retryOnConflict(async () => Promise.reject(Object.assign(new Error('dup'), { code: '23505' })))).rejects.toThrow('dup');
  });
});

describe('retry timing', () => {
  it('waits base·2^(n-1) after attempt n, capped at maxMs', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs({ baseMs: 1_000 }, n))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs({ baseMs: 1_000, maxMs: 3_000 }, 4)).toBe(3_000);
  });
});

describe('validation issues', () => {
  it('name each field by its path, under a prefix, and the input itself as (input)', () => {
    const parsed = z.object({ text: z.string(), chunkSize: z.number().min(1) }).safeParse({ text: 3, chunkSize: 0 });
    const issues = fieldIssues(parsed.error!);
    expect(issues.map((i) => i.path)).toEqual([['text'], ['chunkSize']]);
    expect(describeIssues(issues, ['input'])).toMatch(/^input\.text: .+; input\.chunkSize: .+$/);
    expect(describeIssues(fieldIssues(z.string().safeParse(1).error!))).toMatch(/^\(input\): /);
  });
});

describe('parsePeriod / formatPeriod', () => {
  it('reads periods as people write them, and "forever"; refuses anything else with the forms it takes', () => {
    expect(parsePeriod('7d')).toBe(7 * 86_400_000);
    expect(parsePeriod(' 12h ')).toBe(12 * 3_600_000);
    expect(parsePeriod('1.5m')).toBe(90_000);
    expect(parsePeriod('2w')).toBe(14 * 86_400_000);
    expect(parsePeriod('Forever')).toBe(Infinity);
    for (const bad of ['7', 'd', '7 days', '-1d', '']) expect(() => parsePeriod(bad)).toThrow(/ms, s, m, h, d, w/);
    expect(formatPeriod(7 * 86_400_000)).toBe('7d');
    expect(formatPeriod(90 * 60_000)).toBe('90m');
    expect(formatPeriod(1_500)).toBe('1500ms');
    expect(formatPeriod(Infinity)).toBe('forever');
  });
});

describe('timeOrderedUuid', () => {
  it('is a version 7 uuid whose text order follows time, and the order made within one millisecond', () => {
    const ids = [1_000, 2_000, 2_000, 1_800_000_000_000].map((ms) => timeOrderedUuid(ms));
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]!);
    }
    expect(ids[0]! < ids[1]!).toBe(true);
    expect(ids[1]! < ids[2]!).toBe(true); // same ms: the sequence after the version counts up
    expect(ids[2]! < ids[3]!).toBe(true);
    const burst = Array.from({ length: 5_000 }, () => timeOrderedUuid(1_900_000_000_000));
    expect([...burst].sort()).toEqual(burst); // past 4,096 in one ms it borrows the next ms, in order
    expect(new Set(burst).size).toBe(burst.length);
    // A clock that goes back does not break the order either.
    expect(timeOrderedUuid(Date.UTC(2026, 0, 1)) > burst.at(-1)!).toBe(true);
  });

  it('puts the time in its first 48 bits', () => {
    const ms = Date.UTC(2033, 4, 18); // later than any time used above
    expect(timeOrderedUuid(ms).replace('-', '').slice(0, 12)).toBe(ms.toString(16).padStart(12, '0'));
  });
});

describe('Rounds', () => {
  it('never runs two rounds at once, hands a failed round to onError and goes on, and stop waits for the round in flight', async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    const errors: unknown[] = [];
    const rounds = new Rounds(
      async () => {
        calls++;
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 25));
        running--;
        if (calls === 1) throw new Error('first round fails');
      },
      5,
      (error) => errors.push(error),
    );
    rounds.start();
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3));
    await rounds.stop();
    expect(running).toBe(0); // stop waited for the round in flight
    expect(most).toBe(1);
    expect(errors).toHaveLength(1);
    const after = calls;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(calls).toBe(after);
  });
});
