import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createEventBus } from '../../src/events/bus.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { uniqueName } from '../helpers/system.ts';

const logger = createLogger('silent');

/** A port nothing listens on: taken from the OS, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('event bus over Redis', () => {
  it('is ready once its own message comes back, and carries control messages between buses', async () => {
    const namespace = uniqueName('bus');
    const [a, b] = [0, 1].map(() => createEventBus({ transport: 'redis', namespace, logger, redisUrl: 'redis://127.0.0.1:6379' }));
    try {
      const heard: unknown[] = [];
      const stop = b!.onControl((message) => heard.push(message));
      await Promise.all([a!.ready(), b!.ready()]);
      a!.publishControl({ kind: 'dispatch' });
      await expect.poll(() => heard.filter((m) => (m as { kind: string }).kind === 'dispatch').length).toBe(1);
      stop();
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('gives up at its deadline saying what its connections were doing, instead of waiting on a SUBSCRIBE', async () => {
    const bus = createEventBus({ transport: 'redis', namespace: uniqueName('bus'), logger, redisUrl: `redis://127.0.0.1:${await closedPort()}` });
    try {
      const started = Date.now();
      // Past the first re-subscribe (3 s): a SUBSCRIBE that waits for the connection must not hold the deadline.
      await expect(bus.ready(3_500)).rejects.toThrow(/did not echo within 3500 ms \(publisher \w+.*; subscriber \w+.*ECONNREFUSED/);
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      await bus.close();
    }
  });
});
