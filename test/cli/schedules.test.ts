import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run.ts';
import { startCliTestServer, TOKENS, type CliTestServer } from './server.ts';

/** `jobgraph schedules`: create, list, show, pause, resume, delete, against a real listening API. */
describe('jobgraph schedules', () => {
  let server: CliTestServer;
  const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(server.url, args, env);

  beforeAll(async () => {
    server = await startCliTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates a schedule, lists it with its next tick, shows its next ticks, pauses, resumes and deletes it by name', async () => {
    const created = await cli(['schedules', 'create', 'demo.countWords', '--cron', '30 2 * * *', '--tz', 'America/New_York', '--input', '{"text":"a b"}', '--name', 'nightly-count']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^[0-9a-f-]{36} nightly-count next \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);

    const list = await cli(['schedules']);
    expect(list.code, list.stderr).toBe(0);
    const [header, line] = list.stdout.trim().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+TASK\s+CRON\s+TIME ZONE\s+NEXT \(UTC\)/);
    expect(line).toMatch(/nightly-count\s+demo\.countWords\s+30 2 \* \* \*\s+America\/New_York\s+\d{4}-\d\d-\d\d (06|07):30:00 .*active/);

    const shown = await cli(['schedules', 'show', 'nightly-count', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as { nextRuns: string[]; input: unknown; catchUp: string; source: string; jobs: unknown[] };
    expect(view).toMatchObject({ input: { text: 'a b' }, catchUp: 'ONCE', source: 'api', jobs: [] });
    expect(view.nextRuns).toHaveLength(5);
    // 02:30 in New York is 06:30 or 07:30 UTC, by the day's offset.
    for (const tick of view.nextRuns) expect(tick).toMatch(/T(06|07):30:00\.000Z$/);

    expect((await cli(['schedules', 'pause', 'nightly-count'])).stdout).toMatch(/nightly-count paused$/m);
    const paused = JSON.parse((await cli(['schedules', 'show', 'nightly-count', '--json'])).stdout) as { paused: boolean; nextRuns: string[] };
    expect(paused).toMatchObject({ paused: true, nextRuns: [] });
    expect((await cli(['schedules', 'resume', 'nightly-count'])).stdout).toMatch(/nightly-count next /);
    const deleted = await cli(['schedules', 'delete', 'nightly-count']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await cli(['schedules'])).stderr).toMatch(/no schedules/);
  });

  it('says what is wrong, with the field, and exits 3; a viewer may list but not create', async () => {
    const bad = await cli(['schedules', 'create', 'demo.countWords', '--cron', '0 25 * * *']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^jobgraph: BAD_USER_INPUT cron: "0 25 \* \* \*" is not a cron expression/);
    const zone = await cli(['schedules', 'create', 'demo.countWords', '--cron', '0 2 * * *', '--tz', 'Nowhere/City', '--input', '{"text":"a"}']);
    expect(zone.stderr).toMatch(/timezone: "Nowhere\/City" is not an IANA time zone/);
    const viewer = { JOBGRAPH_URL: server.securedUrl, JOBGRAPH_TOKEN: TOKENS.viewer };
    expect((await cli(['schedules'], viewer)).code).toBe(0);
    const refused = await cli(['schedules', 'create', 'demo.countWords', '--cron', '0 2 * * *', '--input', '{"text":"a"}'], viewer);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/FORBIDDEN/);
    expect((await cli(['schedules', 'pause', 'no-such'])).stderr).toMatch(/no schedule named "no-such"/);
  });
});
