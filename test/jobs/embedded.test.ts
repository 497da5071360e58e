import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { Harness, spawnTs, testEnv, waitFor, waitForJob, withTimeout } from '../helpers/system.ts';

/** Embedded mode: no Redis, no Postgres; the ledger is PGlite on disk and jobs survive restarts. */
describe('embedded (PGlite ledger, inline queue)', () => {
  let dir: string;
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobgraph-pglite-'));
    env = testEnv({
      DATABASE_URL: undefined,
      PGLITE_DIR: join(dir, 'pgdata'),
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      QUEUE_BACKEND: 'auto',
      WORKER_CONCURRENCY: '1',
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('picks inline on PGlite and runs the demo task', async () => {
    const harness = new Harness(env);
    try {
      const system = await harness.start();
      expect(system.selection.adapter.name).toBe('inline');
      expect(system.db.kind).toBe('pglite');
      // Chunks further apart than the progress write interval: each one is written.
      const { job } = await system.enqueue('demo.countWords', { text: 'one two three four five', chunkSize: 2, pauseMs: 250 });
      const done = await waitForJob(system, job.id);
      expect(done).toMatchObject({ status: 'COMPLETED', result: { words: 5 }, progress: 100 });
      const progress = (await system.events(job.id)).filter((e) => e.kind === 'PROGRESS').map((e) => Math.round(e.progress));
      expect(progress).toEqual([33, 67, 100]);
    } finally {
      await harness.stopAll();
    }
  });

  it('completes after a crash the jobs that were running or queued when the process was killed', async () => {
    const child = spawnTs('../fixtures/embedded-app.ts', { ...env, DATABASE_URL: undefined, ENQUEUE: '3', SLEEP_MS: '3000' });
    let output = '';
    const lineMatching = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) resolve(match);
        };
        child.stdout!.on('data', check);
        child.once('exit', (code) => reject(new Error(`embedded app exited with ${code}: ${output}`)));
        check();
      });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [, json] = await withTimeout(lineMatching(/^(\{.*\})$/m), 30_000, 'embedded app start');
    const { ids } = JSON.parse(json!) as { ids: string[] };
    expect(ids).toHaveLength(3);
    // Crash once the first job runs (concurrency 1: the other two stay queued).
    await withTimeout(lineMatching(/^running /m), 10_000, 'first job to start');
    child.kill('SIGKILL');
    await once(child, 'exit');

    const harness = new Harness({ ...env, DATABASE_URL: undefined, WORKER_CONCURRENCY: '3' });
    try {
      const system = await harness.start();
      const done = await Promise.all(ids.map((id) => waitForJob(system, id, 'COMPLETED', 20_000)));
      expect(done.map((j) => j.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      // The one that was running when the process died has its lost attempt on record.
      const attempts = done.map((j) => j.attempt).sort();
      expect(attempts).toEqual([1, 1, 2]);
    } finally {
      await harness.stopAll();
    }
  });

  it('belongs to one process: a second one on the same directory refuses, naming DATABASE_URL', async () => {
    const harness = new Harness(env);
    try {
      await harness.start();
      // `npm start` a second time, in the same folder.
      const second = spawnTs('../../src/main.ts', { ...env, PORT: String(await freePort()), LOG_LEVEL: 'fatal' });
      let output = '';
      second.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await withTimeout(once(second, 'exit'), 30_000, 'second process to exit')) as [number | null];
      expect(code).not.toBe(0);
      expect(output).toMatch(/embedded ledger at .* is in use by another process/);
      expect(output).toContain('DATABASE_URL');
      expect(output).not.toContain('jobgraph started');
    } finally {
      await harness.stopAll();
    }
    // Once the first is gone, the directory can be opened again.
    const after = new Harness(env);
    try {
      expect((await after.start()).db.kind).toBe('pglite');
    } finally {
      await after.stopAll();
    }
  });

  it('refuses WORKER_IN_PROCESS=false: no other process could run the jobs', async () => {
    const harness = new Harness(env);
    await expect(harness.start({ WORKER_IN_PROCESS: 'false' }, { worker: false })).rejects.toThrow(/WORKER_IN_PROCESS=false needs DATABASE_URL/);
  });

  it('completes after a graceful restart the jobs it handed back', async () => {
    const harness = new Harness({ ...env, SHUTDOWN_TIMEOUT_MS: '300' });
    const first = await harness.start();
    const { job } = await first.enqueue('test.sleep', { ms: 60_000 });
    await waitForJob(first, job.id, 'RUNNING');
    await first.stop();
    const second = await harness.start();
    try {
      // The restarted worker takes it up at once: the attempt handed back at shutdown does not count.
      const runs = (events: { kind: string; status: string }[]) => events.filter((e) => e.kind === 'STATUS' && e.status === 'RUNNING');
      await waitFor(() => second.events(job.id), (events) => runs(events).length === 2, 10_000, 'the restarted worker to run it');
      await second.cancel(job.id); // rather than wait out its 60 s
      const settled = await waitForJob(second, job.id);
      const events = await second.events(job.id);
      const messages = events.map((e) => e.message);
      expect(messages).toContain('saw abort: SHUTDOWN');
      expect(messages).toContain('handed back at worker shutdown; the attempt does not count');
      expect(runs(events)).toHaveLength(2);
      expect(settled).toMatchObject({ status: 'CANCELLED', attempt: 1 });
    } finally {
      await harness.stopAll();
    }
  });
});
