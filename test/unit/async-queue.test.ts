import { describe, expect, it } from 'vitest';
import { AsyncQueue, TIMED_OUT } from '../../src/lib/async-queue.ts';

describe('AsyncQueue', () => {
  it('hands values over in order, to a consumer already waiting or later', async () => {
    const queue = new AsyncQueue<number>();
    const waiting = queue.next();
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(await waiting).toEqual({ done: false, value: 1 });
    expect(await queue.next()).toEqual({ done: false, value: 2 });
    expect(await queue.next()).toEqual({ done: false, value: 3 });
  });

  it('keeps the newest `limit` values', async () => {
    const queue = new AsyncQueue<number>({ limit: 2 });
    for (const n of [1, 2, 3]) queue.push(n);
    expect(await queue.next()).toEqual({ done: false, value: 2 });
    expect(await queue.next()).toEqual({ done: false, value: 3 });
  });

  it('lets a value take the place of the last one waiting when `replaces` says so', async () => {
    const queue = new AsyncQueue<{ id: string; n: number }>({ replaces: (a, b) => a.id === b.id });
    queue.push({ id: 'a', n: 1 });
    queue.push({ id: 'a', n: 2 });
    queue.push({ id: 'b', n: 3 });
    expect(await queue.next()).toEqual({ done: false, value: { id: 'a', n: 2 } });
    expect(await queue.next()).toEqual({ done: false, value: { id: 'b', n: 3 } });
  });

  it('ends after what waits, then is done; with an error, rejects once and is done', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    queue.end();
    queue.push(2); // after the end: ignored
    expect(await queue.next()).toEqual({ done: false, value: 1 });
    expect(await queue.next()).toEqual({ done: true, value: undefined });

    const failing = new AsyncQueue<number>();
    const waiting = failing.next();
    failing.end({ error: new Error('boom') });
    await expect(waiting).rejects.toThrow('boom');
    expect(await failing.next()).toEqual({ done: true, value: undefined });
  });

  it('answers TIMED_OUT when nothing comes in time, and a later value still arrives', async () => {
    const queue = new AsyncQueue<number>();
    expect(await queue.next(10)).toBe(TIMED_OUT);
    queue.push(7);
    expect(await queue.next(10)).toEqual({ done: false, value: 7 });
  });

  it('close drops what waits and ends a pending next', async () => {
    const queue = new AsyncQueue<number>();
    const waiting = queue.next();
    queue.close();
    expect(await waiting).toEqual({ done: true, value: undefined });
    queue.push(1);
    expect(await queue.next()).toEqual({ done: true, value: undefined });
  });
});
