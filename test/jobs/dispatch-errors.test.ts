import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { OwnRedis } from '../helpers/ports.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

// The ledger fails after the queue took a job: PostgreSQL itself refuses the write that records
// the queue's reference (a trigger in the test's own database), so the failure is real and comes
// exactly between a successful enqueue and its confirmation.
describe('a ledger error after a successful enqueue', () => {
  let database: TestDatabase;
  let harness: Harness;
  let admin: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
  });
  afterAll(async () => {
    await harness?.stopAll();
    await admin?.end();
    await database?.drop();
  });

  it('is not blamed on the queue: the job is accepted, the backend stays up, and what the queue holds stays there', async () => {
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'bullmq', QUEUE_NAME: uniqueName('confirm'), REDISPATCH_AFTER_MS: '1000' }));
    const system = await harness.start();
    // A job the queue holds for later: a backend marked down would take it back from BullMQ.
    const later = await system.enqueue('test.echo', { value: 'later' }, { delayMs: 60_000 });
    const held = await system.getJob(later.job.id);
    expect(held).toMatchObject({ backend: 'BULLMQ', queueRef: expect.any(String) });

    await admin.query(`
      CREATE FUNCTION refuse_confirm() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'the ledger refuses this confirmation'; END $$;
      CREATE TRIGGER refuse_confirm BEFORE UPDATE ON "Job" FOR EACH ROW
        WHEN (OLD."queueRef" IS NULL AND NEW."queueRef" IS NOT NULL AND NEW.input->>'value' = 'unconfirmed')
        EXECUTE FUNCTION refuse_confirm();`);

    // The job was committed and BullMQ took it: the caller is told so.
    const accepted = await system.enqueue('test.echo', { value: 'unconfirmed' });
    expect(accepted.job.status).toBe('QUEUED');
    expect(system.dispatcher.status()).toMatchObject({ primaryHealthy: true, usingFallback: false });
    expect(await system.getJob(later.job.id)).toMatchObject({ backend: 'BULLMQ', queueRef: held!.queueRef });

    // BullMQ delivers it; it runs once.
    const done = await waitForJob(system, accepted.job.id, undefined, 20_000);
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1, backend: 'BULLMQ' });
    const events = await system.events(accepted.job.id);
    expect(events.filter((e) => e.kind === 'STATUS' && e.status === 'RUNNING')).toHaveLength(1);
  });

  it('never throws into a committed enqueue: with Redis gone and the ledger refusing to take its jobs back, the job is accepted and runs in process', async () => {
    const redis = await OwnRedis.start();
    const own = new Harness(testEnv({ DATABASE_URL: database.url, REDIS_URL: redis.url, QUEUE_BACKEND: 'bullmq', QUEUE_NAME: uniqueName('forget') }));
    try {
      const system = await own.start();
      const held = await system.enqueue('test.echo', { value: 'held by bullmq' }, { delayMs: 60_000 });
      // Taking a job back from the down queue (Outbox.forget) clears its queueRef: refused here.
      await admin.query(`
        CREATE FUNCTION refuse_forget() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the ledger refuses to take the job back'; END $$;
        CREATE TRIGGER refuse_forget BEFORE UPDATE ON "Job" FOR EACH ROW
          WHEN (OLD."queueRef" IS NOT NULL AND NEW."queueRef" IS NULL AND OLD.input->>'value' = 'held by bullmq')
          EXECUTE FUNCTION refuse_forget();`);
      await redis.stop();

      const accepted = await system.enqueue('test.echo', { value: 'while redis is gone' });
      expect(await waitForJob(system, accepted.job.id, undefined, 20_000)).toMatchObject({ status: 'COMPLETED', attempt: 1 });
      expect(system.dispatcher.status()).toMatchObject({ primaryHealthy: false, usingFallback: true });
      expect(await system.getJob(held.job.id)).toMatchObject({ status: 'QUEUED', queueRef: expect.any(String) });
    } finally {
      await own.stopAll();
      await redis.destroy();
    }
  });

  it('never throws into a committed enqueue when the event bus throws: the job is accepted and the sweep sends it', async () => {
    const own = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'bullmq', QUEUE_NAME: uniqueName('bus'), REDISPATCH_AFTER_MS: '1000' }));
    try {
      const system = await own.start();
      const { bus } = system;
      const publish = bus.publishJobChange.bind(bus);
      bus.publishJobChange = () => {
        throw new Error('the event bus refuses this change');
      };
      const accepted = await system.enqueue('test.echo', { value: 'unannounced' });
      bus.publishJobChange = publish;
      expect(accepted.job.status).toBe('QUEUED');
      // The throw came before the dispatch: the job was sent by the sweep, once.
      expect(await waitForJob(system, accepted.job.id, undefined, 20_000)).toMatchObject({ status: 'COMPLETED', attempt: 1 });
    } finally {
      await own.stopAll();
    }
  });
});
