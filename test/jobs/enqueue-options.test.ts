import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/jobs/errors.ts';
import { systemPerFile } from '../helpers/system.ts';

/** The job service checks an enqueue's options itself, whoever calls it (the API and the CLI check first by the same rule). */
describe('enqueue options at the service', () => {
  const { system } = systemPerFile();

  const jobCount = async () => (await system().db.query<{ n: number }>('SELECT count(*)::int AS n FROM "Job"'))[0]!.n;

  it.each([
    [{ priority: 5_000 }, 'priority'],
    [{ priority: 1.5 }, 'priority'],
    [{ delayMs: -1 }, 'delayMs'],
    [{ idempotencyKey: '' }, 'idempotencyKey'],
    [{ idempotencyKey: 'k'.repeat(201) }, 'idempotencyKey'],
  ])('refuses %j before anything is written, naming the option', async (opts, field) => {
    const before = await jobCount();
    const refused = await system().enqueue('test.echo', {}, opts).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InvalidInputError);
    expect((refused as InvalidInputError).issues).toEqual([{ path: [field], message: expect.stringContaining(field) }]);
    const many = await system().enqueueMany([{ type: 'test.echo', input: {} }, { type: 'test.echo', input: {}, opts }]).catch((error: unknown) => error);
    expect((many as InvalidInputError).issues).toEqual([{ path: ['1', field], message: expect.stringContaining(field) }]);
    expect(await jobCount()).toBe(before);
  });

  it('takes the edges of each range', async () => {
    const { job } = await system().enqueue('test.echo', {}, { priority: -1_000, delayMs: 0, idempotencyKey: 'k'.repeat(200) });
    expect(job).toMatchObject({ priority: -1_000, status: 'QUEUED' });
  });
});
