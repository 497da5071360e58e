import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName } from '../helpers/system.ts';

/** Schedules over GraphQL: what each role may do, the typed errors, a tick's job as a client sees it. */
describe('GraphQL schedules', () => {
  let database: TestDatabase;
  let harness: Harness;
  let system: JobSystem;
  let api: Api;
  let clock = Date.parse('2026-06-01T09:59:00Z');

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('api'), API_TOKENS: 'olga:tok-olga:operator,vic:tok-vic:viewer' }));
    system = await harness.start({}, {
      scheduler: { now: () => clock, start: false },
      schedules: [{ name: 'in-code', task: 'test.echo', input: { value: 'code' }, cron: '0 * * * *' }],
    });
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger);
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  const olga = () => client(api.yoga, 'tok-olga');
  const vic = () => client(api.yoga, 'tok-vic');
  const CREATE = `mutation($task: String!, $input: JSON!, $cron: String!, $timezone: String) {
    createSchedule(task: $task, input: $input, cron: $cron, timezone: $timezone, name: "hourly-echo") { id name source paused nextRunAt nextRuns(count: 2) createdBy }
  }`;

  it('an operator makes one; a viewer reads it but is refused changes; its tick makes a job that carries it', async () => {
    const created = await olga().request(CREATE, { task: 'test.echo', input: { value: 1 }, cron: '0 * * * *', timezone: 'Asia/Kolkata' });
    expect(created.errors).toBeUndefined();
    const schedule = created.data!.createSchedule;
    // Kolkata is UTC+05:30: its whole hours are at :30 UTC.
    expect(schedule).toMatchObject({ source: 'api', paused: false, createdBy: 'olga', nextRunAt: '2026-06-01T10:30:00.000Z', nextRuns: ['2026-06-01T10:30:00.000Z', '2026-06-01T11:30:00.000Z'] });
    const refused = await vic().request('mutation($id: ID!) { pauseSchedule(id: $id) { id } }', { id: schedule.id });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await vic().request(CREATE, { task: 'test.echo', input: {}, cron: '0 * * * *' })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const listed = await vic().request('{ schedules { name source } }');
    expect(listed.data!.schedules).toEqual([{ name: 'hourly-echo', source: 'api' }, { name: 'in-code', source: 'code' }]);

    clock = Date.parse('2026-06-01T10:30:00.050Z');
    await system.scheduler.fire();
    const read = await olga().request('query($id: ID!) { schedule(id: $id) { lastRunAt lastJob { id scheduleId tags createdBy } jobs { id } } }', { id: schedule.id });
    const { lastJob, jobs, lastRunAt } = read.data!.schedule;
    expect(lastRunAt).toBe('2026-06-01T10:30:00.000Z');
    expect(lastJob).toMatchObject({ scheduleId: schedule.id, tags: ['schedule:hourly-echo'], createdBy: 'olga' });
    expect(jobs).toEqual([{ id: lastJob.id }]);
  });

  it('answers a bad cron, zone or input with BAD_USER_INPUT under the field; an unknown id, a taken name and a schedule in code with their own codes', async () => {
    const bad = await olga().request(CREATE, { task: 'test.echo', input: { steps: -1 }, cron: '0 * * *', timezone: 'Nowhere' });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((bad.errors![0]!.extensions!.issues as { path: string }[]).map((i) => i.path).sort()).toEqual(['cron', 'input.steps', 'timezone']);
    expect(bad.errors![0]!.message).not.toMatch(/\n\s+at /);
    const taken = await olga().request(CREATE, { task: 'test.echo', input: {}, cron: '0 * * * *' });
    expect(taken.errors?.[0]?.extensions?.code).toBe('SCHEDULE_NAME_TAKEN');
    const missing = await olga().request('mutation { resumeSchedule(id: "0190a6f2-0000-7000-8000-000000000000") { id } }');
    expect(missing.errors?.[0]?.extensions?.code).toBe('SCHEDULE_NOT_FOUND');
    for (const query of ['{ schedule(id: "nightly") { id } }', 'mutation { pauseSchedule(id: "42") { id } }', 'mutation { deleteSchedule(id: "x") { id } }']) {
      expect((await olga().request(query)).errors?.[0]?.extensions?.code, query).toBe('SCHEDULE_NOT_FOUND');
    }
    const inCode = (await olga().request('{ schedules { id name } }')).data!.schedules.find((s: { name: string }) => s.name === 'in-code');
    const deleted = await olga().request('mutation($id: ID!) { deleteSchedule(id: $id) { id } }', { id: inCode.id });
    expect(deleted.errors?.[0]?.extensions?.code).toBe('SCHEDULE_IN_CODE');
    const paused = await olga().request('mutation($id: ID!) { pauseSchedule(id: $id) { paused nextRuns } }', { id: inCode.id });
    expect(paused.data!.pauseSchedule).toEqual({ paused: true, nextRuns: [] });
  });
});
