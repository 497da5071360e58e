import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../lib/logger.ts';
import { withTimeout } from '../lib/timeouts.ts';

/**
 * Logs Redis/BullMQ errors: the first of a kind as a warning, repeats within 30 s at debug. One
 * outage reaches every connection, queue and worker with the same message: keyed by message only.
 */
export class ErrorLog {
  readonly #log: Logger;
  readonly #lastLogged = new Map<string, number>();

  constructor(log: Logger) {
    this.#log = log;
  }

  report(source: string, err: Error): void {
    const key = err.message;
    const now = Date.now();
    if (now - (this.#lastLogged.get(key) ?? 0) < 30_000) {
      this.#log.debug({ source, err: err.message }, 'bullmq error (repeat)');
      return;
    }
    if (this.#lastLogged.size > 100) this.#lastLogged.clear();
    this.#lastLogged.set(key, now);
    this.#log.warn({ source, err }, 'bullmq error');
  }
}

/** A connection that reconnects forever (at most every 2 s) and reports its errors. */
export function connectRedis(url: string, role: string, extra: RedisOptions, errors: ErrorLog): Redis {
  const redis = new Redis(url, {
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    ...extra,
  });
  // An 'error' event without a listener would crash the process.
  redis.on('error', (err) => errors.report(`${role}-connection`, err));
  return redis;
}

/** QUIT (lets pending replies arrive), bounded: a reconnecting client may never answer. */
export async function endConnection(redis: Redis): Promise<void> {
  await withTimeout(redis.quit(), 1_000, () => new Error('quit timed out')).catch(() => {});
  redis.disconnect();
}
