import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForJob } from '../helpers/system.ts';
import { waitFor } from '../helpers/wait.ts';
import { runCli } from './run.ts';
import { startCliTestServer, TOKENS, type CliTestServer } from './server.ts';

/**
 * `jobgraph jobs --tag/--input`, `enqueue --tag`, and the bulk forms of `cancel` and `retry`,
 * run as a user runs them: a child process against a real listening API.
 */
describe('jobgraph: search and bulk actions', () => {
  let server: CliTestServer;
  // stdin is not a terminal: a bulk action must say --yes.
  const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(server.url, args, env);
  const lines = (text: string) => text.trim().split('\n').filter(Boolean);

  beforeAll(async () => {
    server = await startCliTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('enqueue --tag (repeated) and jobs --tag / --input find them', async () => {
    const enqueued = await cli(['enqueue', 'test.echo', '--input', '{"value":{"report":"r-9"}}', '--tag', 'cli-a', '--tag', 'cli-b', '--delay-ms', '3600000', '--json']);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const job = JSON.parse(enqueued.stdout);
    expect(job.tags).toEqual(['cli-a', 'cli-b']);

    const byTag = await cli(['jobs', '--tag', 'cli-a', '--tag', 'cli-b', '--json']);
    expect(byTag.code, byTag.stderr).toBe(0);
    expect(JSON.parse(byTag.stdout).map((j: { id: string }) => j.id)).toEqual([job.id]);
    const byInput = await cli(['jobs', '--input', '{"value":{"report":"r-9"}}']);
    expect(byInput.code, byInput.stderr).toBe(0);
    expect(lines(byInput.stdout).slice(1).map((line) => line.split(/\s+/)[0])).toEqual([job.id]);
    const none = await cli(['jobs', '--tag', 'cli-a', '--status', 'FAILED']);
    expect([none.code, none.stdout, none.stderr.trim()]).toEqual([0, '', 'no jobs']);

    const notObject = await cli(['jobs', '--input', '[1]']);
    expect([notObject.code, notObject.stderr]).toEqual([2, expect.stringMatching(/^jobgraph: --input must be a JSON object/)]);
    await server.system.cancel(job.id);
  });

  it('cancel --tag: asks for --yes off a terminal, --dry-run lists, then cancels at most --limit and says more remain', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(lines((await cli(['enqueue', 'test.echo', '--input', `{"value":${i}}`, '--tag', 'cli-cancel', '--delay-ms', '3600000'])).stdout)[0]!);
    const newestFirst = [...ids].reverse();

    const unasked = await cli(['cancel', '--tag', 'cli-cancel']);
    expect(unasked.code).toBe(2);
    expect(unasked.stderr).toMatch(/^jobgraph: 3 jobs match; add --yes to cancel them \(or --dry-run to list them\)/);
    const dry = await cli(['cancel', '--tag', 'cli-cancel', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(lines(dry.stdout)).toEqual(newestFirst);
    expect(dry.stderr).toMatch(/3 jobs to cancel; nothing done \(--dry-run\)/);
    for (const id of ids) expect((await server.system.getJob(id))!.status).toBe('QUEUED');

    const first = await cli(['cancel', '--tag', 'cli-cancel', '--limit', '2', '--yes']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe('cancelled 2 of 2 jobs');
    expect(first.stderr).toMatch(/more jobs match: run it again for the next 2/);
    const rest = await cli(['cancel', '--tag', 'cli-cancel', '--yes', '--json']);
    expect(rest.code, rest.stderr).toBe(0);
    expect(JSON.parse(rest.stdout)).toMatchObject({ matched: 1, acted: 1, ids: [ids[0]], hasMore: false });
    for (const id of ids) {
      expect((await server.system.getJob(id))!.status).toBe('CANCELLED');
      expect((await server.system.events(id)).map((event) => event.message)).toContain('cancelled by local, in a bulk cancel');
    }
    const nothing = await cli(['cancel', '--tag', 'cli-cancel', '--yes']);
    expect([nothing.code, nothing.stdout, nothing.stderr.trim()]).toEqual([0, '', '0 jobs to cancel']);
  });

  it('retry --status FAILED --task: retries them; a filter of only statuses needs --all; cancel <id> and retry <id> keep working', async () => {
    const failed = [];
    for (let i = 0; i < 2; i++) failed.push(lines((await cli(['enqueue', 'test.refuses', '--input', '{}'])).stdout)[0]!);
    for (const id of failed) await waitForJob(server.system, id, 'FAILED');

    const broad = await cli(['retry', '--status', 'FAILED', '--yes']);
    expect(broad.code).toBe(2);
    expect(broad.stderr).toMatch(/^jobgraph: give <id>, or a filter: --task, --tag or --input \(or --all for every FAILED job\)/);
    const mixed = await cli(['retry', failed[0]!, '--tag', 'x']);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/retry <id> acts on one job: leave out --tag/);

    const run = await cli(['retry', '--status', 'FAILED', '--task', 'test.refuses', '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^retried \d+ of \d+ jobs$/);
    for (const id of failed) {
      await waitFor(async () => (await server.system.getJob(id))!, (job) => job.status === 'FAILED' && job.attempt === 2, 10_000, 'a second attempt');
      expect((await server.system.events(id)).map((event) => event.message)).toContain('retried by local, in a bulk retry');
    }
    // The single forms.
    const single = await cli(['retry', failed[0]!]);
    expect([single.code, single.stdout.trim()]).toEqual([0, 'QUEUED']);
    const waiting = lines((await cli(['enqueue', 'test.echo', '--input', '{}', '--delay-ms', '3600000'])).stdout)[0]!;
    const cancelled = await cli(['cancel', waiting]);
    expect([cancelled.code, cancelled.stdout.trim()]).toEqual([0, 'CANCELLED']);
  });

  it('a viewer is refused (exit 3, FORBIDDEN); an operator acts on their own jobs only', async () => {
    const secured = (args: string[], token: string) => runCli(server.securedUrl, args, { JOBGRAPH_TOKEN: token });
    const mine = lines((await secured(['enqueue', 'test.echo', '--input', '{}', '--tag', 'cli-own', '--delay-ms', '3600000'], TOKENS.operator)).stdout)[0]!;
    const others = (await server.system.enqueue('test.echo', {}, { tags: ['cli-own'], delayMs: 3_600_000, createdBy: 'someone' })).job.id;

    const viewer = await secured(['cancel', '--tag', 'cli-own', '--yes'], TOKENS.viewer);
    expect(viewer.code).toBe(3);
    expect(viewer.stderr).toMatch(/FORBIDDEN/);
    const operator = await secured(['cancel', '--tag', 'cli-own', '--yes'], TOKENS.operator);
    expect(operator.code, operator.stderr).toBe(0);
    expect(operator.stdout.trim()).toBe('cancelled 1 of 1 job');
    expect((await server.system.getJob(mine))!.status).toBe('CANCELLED');
    expect((await server.system.getJob(others))!.status).toBe('QUEUED');
    expect((await server.system.events(mine)).map((event) => event.message)).toContain('cancelled by olga, in a bulk cancel');
    await server.system.cancel(others);
  });
});
