import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { Deployment } from './support/deployment.ts';
import { recordRow } from './support/report.ts';

/** The embedded ledger (PGlite) belongs to the one process that opened it. */
describe('a second process on the embedded ledger', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('refuses clearly, and so does a worker without DATABASE_URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-faults-embedded-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // `npm start` with nothing else: no DATABASE_URL, a Redis that is not there, PGlite in a folder.
    const env = {
      DATABASE_URL: undefined,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      PGLITE_DIR: join(dir, 'pgdata'),
      WORKER_IN_PROCESS: 'true',
      LOG_LEVEL: 'info',
    };
    const deployment = Deployment.create(env, join(dir, 'logs'));
    cleanups.push(() => deployment.stopAll());
    const first = await deployment.startApi({ WORKER_IN_PROCESS: 'true' });
    expect(first.url).toMatch(/^http/);

    const second = await deployment.startApi({ WORKER_IN_PROCESS: 'true' }).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(second).toMatch(/embedded ledger at .* is in use by another process/);
    expect(second).toContain('DATABASE_URL');

    const worker = await deployment.startWorker().then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(worker).toMatch(/A separate worker needs PostgreSQL: set DATABASE_URL/);

    recordRow({
      scenario: 'second process on the embedded ledger',
      backend: 'inline',
      accepted: 0,
      completed: 0,
      lost: 0,
      duplicateTerminal: 0,
      longestRecoveryMs: null,
      notes: 'a second `npm start` exits: "in use by another process … set DATABASE_URL"; `npm run worker` exits: "needs PostgreSQL"',
    });
  });
});
