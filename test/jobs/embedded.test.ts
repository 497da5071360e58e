import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPaths, startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded-postgres.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { freePort } from '../helpers/ports.ts';
import { Harness, REDIS_URL, spawnTs, testEnv, uniqueName, waitFor, waitForJob, withTimeout } from '../helpers/system.ts';

/**
 * The embedded ledger: the PostgreSQL that `npm start` runs in EMBEDDED_DIR (here started by the
 * test in a folder of its own), which a job system opens by EMBEDDED_LEDGER_URL with DATABASE_URL
 * unset. It is a PostgreSQL like any: the queue is chosen as for one (BullMQ when Redis answers,
 * pg-boss when it does not), and jobs survive the processes that ran them.
 */
describe('embedded ledger (the PostgreSQL of EMBEDDED_DIR)', () => {
  let dir: string;
  let server: EmbeddedServer;
  /** No DATABASE_URL, the embedded server's URL, and a Redis that is not there. */
  let env: Record<string, string | undefined>;

  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'jobgraph-embedded-')), 'jg');
    server = await startEmbeddedPostgres({ dir });
    env = testEnv({
      DATABASE_URL: undefined,
      EMBEDDED_LEDGER_URL: server.url,
      EMBEDDED_DIR: dir,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      QUEUE_BACKEND: 'auto',
      EVENT_BUS: 'auto',
      WORKER_CONCURRENCY: '1',
    });
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) {
      const { dataDir } = await embeddedPaths(dir);
      await rm(dirname(dir), { recursive: true, force: true });
      if (!dataDir.startsWith(dir)) await rm(dirname(dataDir), { recursive: true, force: true }); // as root: /var/lib/jobgraph/<folder>
    }
  });

  /** countWords in chunks further apart than the progress write interval: each one is written. */
  async function runsCountWords(system: JobSystem): Promise<void> {
    const { job } = await system.enqueue('demo.countWords', { text: 'one two three four five', chunkSize: 2, pauseMs: 250 });
    const done = await waitForJob(system, job.id);
    expect(done).toMatchObject({ status: 'COMPLETED', result: { words: 5 }, progress: 100 });
    const progress = (await system.events(job.id)).filter((e) => e.kind === 'PROGRESS').map((e) => Math.round(e.progress));
    expect(progress).toEqual([33, 67, 100]);
  }

  it('without Redis, auto picks pg-boss and the LISTEN/NOTIFY bus, and runs the demo task', async () => {
    const harness = new Harness({ ...env, QUEUE_NAME: uniqueName('embedded') });
    try {
      const system = await harness.start();
      expect(system.db.kind).toBe('embedded');
      expect(system.selection.adapter.name).toBe('pgboss');
      expect(system.bus.transport).toBe('postgres');
      await runsCountWords(system);
    } finally {
      await harness.stopAll();
    }
  });

  it('with Redis answering, auto picks BullMQ and the Redis bus, as on any PostgreSQL', async () => {
    const harness = new Harness({ ...env, REDIS_URL, QUEUE_NAME: uniqueName('embedded') });
    try {
      const system = await harness.start();
      expect(system.db.kind).toBe('embedded');
      expect(system.selection.adapter.name).toBe('bullmq');
      expect(system.bus.transport).toBe('redis');
      await runsCountWords(system);
    } finally {
      await harness.stopAll();
    }
  });

  it('an API without a worker and a worker in another process share it (WORKER_IN_PROCESS=false)', async () => {
    const harness = new Harness({ ...env, QUEUE_NAME: uniqueName('embedded') });
    try {
      const api = await harness.start({ WORKER_IN_PROCESS: 'false' }, { worker: false });
      expect(api.db.kind).toBe('embedded');
      const { child } = await harness.spawnWorker();
      const { job } = await api.enqueue('demo.countWords', { text: 'a b c', chunkSize: 1 });
      const done = await waitForJob(api, job.id, 'COMPLETED', 30_000);
      expect(done.result).toMatchObject({ words: 3 });
      // Run in the worker's process ("running on <host>:<pid>:<tag>").
      const ranOn = (await api.events(job.id)).filter((e) => e.status === 'RUNNING' && e.message?.startsWith('running on '));
      expect(ranOn.map((e) => Number(e.message!.split(':').at(-2)))).toEqual([child.pid]);
    } finally {
      await harness.stopAll();
    }
  });

  it('completes after a crash the jobs that were running or queued when the process was killed', async () => {
    const queue = { QUEUE_NAME: uniqueName('embedded') };
    // The app finds the server in EMBEDDED_DIR (no EMBEDDED_LEDGER_URL), as `npm run worker` does.
    const child = spawnTs('../fixtures/embedded-app.ts', { ...env, ...queue, EMBEDDED_LEDGER_URL: undefined, ENQUEUE: '3', SLEEP_MS: '3000' });
    let output = '';
    let ids: string[] | undefined;
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
    try {
      const [, json] = await withTimeout(lineMatching(/^(\{.*\})$/m), 30_000, 'embedded app start');
      const started = JSON.parse(json!) as { ids: string[]; kind: string; backend: string; bus: string };
      expect(started).toMatchObject({ kind: 'embedded', backend: 'pgboss', bus: 'postgres' });
      ids = started.ids;
      expect(ids).toHaveLength(3);
      // Crash once the first job runs (concurrency 1: the other two stay queued).
      await withTimeout(lineMatching(/^running /m), 10_000, 'first job to start');
      child.kill('SIGKILL');
      await once(child, 'exit');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    const harness = new Harness({ ...env, ...queue, WORKER_CONCURRENCY: '3' });
    try {
      const system = await harness.start();
      // The one it was running is taken up again once its heartbeat is stale (STALE_AFTER_MS 3 s).
      const done = await Promise.all(ids!.map((id) => waitForJob(system, id, 'COMPLETED', 30_000)));
      expect(done.map((j) => j.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      // The one that was running when the process died has its lost attempt on record.
      const attempts = done.map((j) => j.attempt).sort();
      expect(attempts).toEqual([1, 1, 2]);
      const running = done.find((j) => j.attempt === 2)!;
      expect((await system.events(running.id)).some((e) => e.kind === 'ATTEMPT')).toBe(true);
    } finally {
      await harness.stopAll();
    }
  });

  it('completes after a graceful restart the jobs it handed back', async () => {
    const harness = new Harness({ ...env, QUEUE_NAME: uniqueName('embedded'), SHUTDOWN_TIMEOUT_MS: '300' });
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
