/**
 * The tests' one way to wait for something that happens elsewhere (another process, a queue, a
 * browser): poll until it holds, and fail with what was last seen after a bound.
 */
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 20;

/** Polls `read` until `done` holds for its value, and hands that value back; fails with the last value after `timeoutMs`. */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
  what: string | (() => string) = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) {
      const name = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${name}; last value: ${JSON.stringify(value)}`);
    }
    await sleep(POLL_MS);
    value = await read();
  }
  return value;
}

/** Waits until `condition` is true (see waitFor). */
export async function waitUntil(what: string | (() => string), condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  await waitFor(condition, (ok) => ok, timeoutMs, what);
}
