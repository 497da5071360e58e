import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/jobs/errors.ts';
import type { Job } from '../../src/jobs/ledger/index.ts';
import { tickKey } from '../../src/jobs/schedules/scheduler.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName } from '../helpers/system.ts';

/**
 * Schedules on one ledger, fired by two job systems (two schedulers) that share a clock the test
 * moves: nothing here waits for a tick to come.
 */
describe('schedules', () => {
  let database: TestDatabase;
  let harness: Harness;
  let a: JobSystem;
  let b: JobSystem;
  let clock = Date.parse('2026-06-01T00:00:00Z');
  const scheduler = { now: () => clock, start: false };

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('sched') }));
    a = await harness.start({}, { scheduler });
    b = await harness.start({}, { scheduler });
  });
  afterAll(async () => {
    await harness.stopAll();
    await database.drop();
  });

  const jobsOf = async (scheduleId: string): Promise<Job[]> => (await a.schedules.jobs(scheduleId, 100)).reverse();
  /** Moves the clock to `at` and lets both schedulers fire at once. */
  const fireAt = async (at: string | number) => {
    clock = typeof at === 'string' ? Date.parse(at) : at;
    await Promise.all([a.scheduler.fire(), b.scheduler.fire()]);
  };
  const ticksOf = (jobs: Job[]) => jobs.map((job) => job.idempotencyKey!.split(':').slice(2).join(':'));

  it('refuses a cron, a time zone, a task or an input that do not fit, each under its field', async () => {
    const issues = async (request: Parameters<JobSystem['schedules']['create']>[0]) => {
      const error = await a.schedules.create(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      return (error as InvalidInputError).issues.map((issue) => issue.path.join('.'));
    };
    expect(await issues({ task: 'test.echo', input: {}, cron: '61 * * * *' })).toEqual(['cron']);
    expect(await issues({ task: 'test.echo', input: {}, cron: '* * *' })).toEqual(['cron']);
    expect(await issues({ task: 'test.echo', input: {}, cron: '0 * * * *', timezone: 'Mars/Olympus' })).toEqual(['timezone']);
    expect(await issues({ task: 'no.such', input: {}, cron: '0 * * * *' })).toEqual(['task']);
    expect(await issues({ task: 'test.echo', input: { steps: 'many' }, cron: '0 * * * *' })).toEqual(['input.steps']);
    expect(await a.schedules.list()).toEqual([]);
  });

  it('two schedulers firing together make exactly one job per tick, each carrying the schedule', async () => {
    clock = Date.parse('2026-06-01T10:00:30Z');
    const schedule = await a.schedules.create({ name: 'every-minute', task: 'test.echo', input: {}, cron: '* * * * *' });
    expect(schedule.nextRunAt).toEqual(new Date('2026-06-01T10:01:00Z'));
    await fireAt('2026-06-01T10:00:59.999Z');
    expect(await jobsOf(schedule.id)).toEqual([]);
    for (let minute = 1; minute <= 5; minute++) await fireAt(`2026-06-01T10:0${minute}:00.200Z`);
    const jobs = await jobsOf(schedule.id);
    expect(ticksOf(jobs)).toEqual([1, 2, 3, 4, 5].map((m) => `2026-06-01T10:0${m}:00.000Z`));
    expect(jobs.every((job) => job.scheduleId === schedule.id && job.tags.includes('schedule:every-minute'))).toBe(true);
    const after = await a.schedules.get(schedule.id);
    expect(after).toMatchObject({ nextRunAt: new Date('2026-06-01T10:06:00Z'), lastRunAt: new Date('2026-06-01T10:05:00Z'), lastJobId: jobs[4]!.id });
    await a.schedules.delete(schedule.id);
  });

  it('a scheduler that dies after the enqueue and before moving the schedule on: the other makes no second job', async () => {
    clock = Date.parse('2026-06-02T08:00:00Z');
    const dying = await harness.start({}, {
      scheduler: { now: () => clock, start: false, afterEnqueue: () => Promise.reject(new Error('killed at the tick')) },
    });
    const schedule = await a.schedules.create({ task: 'test.echo', input: {}, cron: '0 9 * * *' });
    clock = Date.parse('2026-06-02T09:00:00.100Z');
    await expect(dying.scheduler.fire()).rejects.toThrow('killed at the tick');
    expect((await a.schedules.get(schedule.id)).nextRunAt).toEqual(new Date('2026-06-02T09:00:00Z'));
    await a.scheduler.fire();
    const jobs = await jobsOf(schedule.id);
    expect(ticksOf(jobs)).toEqual(['2026-06-02T09:00:00.000Z']);
    expect(jobs[0]!.idempotencyKey).toBe(tickKey(schedule.id, new Date('2026-06-02T09:00:00Z')));
    expect((await a.schedules.get(schedule.id)).nextRunAt).toEqual(new Date('2026-06-03T09:00:00Z'));
    await a.schedules.delete(schedule.id);
    await dying.stop();
  });

  it('America/New_York: 02:30 on the spring-forward day fires once at 03:00; 01:30 on the fall-back day fires once; every 30 min fires through both 01:00 hours', async () => {
    clock = Date.parse('2026-03-07T12:00:00Z');
    const spring = await a.schedules.create({ name: 'spring', task: 'test.echo', input: {}, cron: '30 2 * * *', timezone: 'America/New_York' });
    // Every quarter hour through three nights.
    for (let at = clock; at <= Date.parse('2026-03-10T12:00:00Z'); at += 15 * 60_000) await fireAt(at);
    expect(ticksOf(await jobsOf(spring.id))).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z']);

    clock = Date.parse('2026-10-31T12:00:00Z');
    const fallOnce = await a.schedules.create({ name: 'fall-once', task: 'test.echo', input: {}, cron: '30 1 * * *', timezone: 'America/New_York' });
    const fallEvery = await a.schedules.create({ name: 'fall-every', task: 'test.echo', input: {}, cron: '*/30 1 * * *', timezone: 'America/New_York' });
    for (let at = clock; at <= Date.parse('2026-11-01T12:00:00Z'); at += 10 * 60_000) await fireAt(at);
    // 01:30 EDT is 05:30Z; 01:30 EST (06:30Z) does not fire again.
    expect(ticksOf(await jobsOf(fallOnce.id))).toEqual(['2026-11-01T05:30:00.000Z']);
    expect(ticksOf(await jobsOf(fallEvery.id))).toEqual([
      '2026-11-01T05:00:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T06:30:00.000Z',
    ]);
    for (const s of [spring, fallOnce, fallEvery]) await a.schedules.delete(s.id);
  });

  it('a paused schedule makes no job; resumed, it goes on from the next tick and does not make up the pause', async () => {
    clock = Date.parse('2026-06-03T00:00:00Z');
    const schedule = await a.schedules.create({ task: 'test.echo', input: {}, cron: '0 * * * *' });
    await fireAt('2026-06-03T01:00:00Z');
    await a.schedules.pause(schedule.id);
    expect(a.schedules.nextTicks(await a.schedules.get(schedule.id), 3)).toEqual([]);
    for (const hour of ['02', '03', '04']) await fireAt(`2026-06-03T${hour}:00:01Z`);
    expect(ticksOf(await jobsOf(schedule.id))).toEqual(['2026-06-03T01:00:00.000Z']);
    clock = Date.parse('2026-06-03T04:10:00Z');
    const resumed = await a.schedules.resume(schedule.id);
    expect(resumed.nextRunAt).toEqual(new Date('2026-06-03T05:00:00Z'));
    expect(a.schedules.nextTicks(resumed, 2)).toEqual([new Date('2026-06-03T05:00:00Z'), new Date('2026-06-03T06:00:00Z')]);
    await fireAt('2026-06-03T05:00:00Z');
    expect(ticksOf(await jobsOf(schedule.id))).toEqual(['2026-06-03T01:00:00.000Z', '2026-06-03T05:00:00.000Z']);
    await a.schedules.delete(schedule.id);
  });

  it('ticks missed while nothing ran: catchUp once makes one job for the latest, skip makes none; both go on from now', async () => {
    clock = Date.parse('2026-06-04T00:00:00Z');
    const once = await a.schedules.create({ name: 'catch-once', task: 'test.echo', input: {}, cron: '0 * * * *', catchUp: 'once' });
    const skip = await a.schedules.create({ name: 'catch-skip', task: 'test.echo', input: {}, cron: '0 * * * *', catchUp: 'skip' });
    // Down from 00:00 to 05:20: ticks 01:00 … 05:00 were missed.
    await fireAt('2026-06-04T05:20:00Z');
    expect(ticksOf(await jobsOf(once.id))).toEqual(['2026-06-04T05:00:00.000Z']);
    expect(await jobsOf(skip.id)).toEqual([]);
    for (const s of [once, skip]) expect((await a.schedules.get(s.id)).nextRunAt).toEqual(new Date('2026-06-04T06:00:00Z'));
    // A tick fired within the grace (a minute) is on time for both.
    await fireAt('2026-06-04T06:00:30Z');
    expect(ticksOf(await jobsOf(skip.id))).toEqual(['2026-06-04T06:00:00.000Z']);
    for (const s of [once, skip]) await a.schedules.delete(s.id);
  });

  it('schedules in code are written by name: a pause survives a restart, a changed cron starts from its next tick, a removed one goes', async () => {
    clock = Date.parse('2026-06-04T23:00:00Z');
    const nightly = { name: 'nightly', task: 'test.echo', input: {}, cron: '0 2 * * *', timezone: 'Europe/Paris' };
    await a.schedules.syncCode([nightly, { name: 'hourly', task: 'test.echo', input: {}, cron: '0 * * * *' }]);
    const first = (await a.schedules.list()).find((s) => s.name === 'nightly')!;
    expect(first).toMatchObject({ source: 'code', nextRunAt: new Date('2026-06-05T00:00:00Z') });
    await a.schedules.pause(first.id);
    await b.schedules.syncCode([nightly, { name: 'hourly', task: 'test.echo', input: {}, cron: '0 * * * *' }]);
    expect((await a.schedules.get(first.id)).paused).toBe(true);
    await b.schedules.syncCode([{ ...nightly, cron: '0 3 * * *' }]);
    const changed = await a.schedules.get(first.id);
    expect(changed).toMatchObject({ cron: '0 3 * * *', paused: true, nextRunAt: new Date('2026-06-05T01:00:00Z') });
    expect((await a.schedules.list()).map((s) => s.name)).toEqual(['nightly']);
    await expect(a.schedules.syncCode([{ ...nightly, input: { steps: -1 } }])).rejects.toThrow(/input/);
    await b.schedules.syncCode([]);
  });
});
