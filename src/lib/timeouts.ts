/**
 * Rejects if `promise` has not settled within `ms`, with `onTimeout()` or, given a name, with
 * "<what> timed out after <ms> ms"; leaves no timer behind. The promise itself runs on.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: string | (() => Error)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(typeof onTimeout === 'string' ? new Error(`${onTimeout} timed out after ${ms} ms`) : onTimeout()),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
