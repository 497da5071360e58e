import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { waitForJob } from '../helpers/system.ts';
import { waitFor } from '../helpers/wait.ts';
import { bin, runProcess, type Run } from './run.ts';
import { startCliTestServer, TOKENS, type CliTestServer } from './server.ts';

/**
 * `jobgraph` (bin/jobgraph.mjs) as a user runs it: a child process against a real listening API
 * (inline queue, a worker in the server's process), read by its stdout, stderr and exit status.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COUNT_FOUR = JSON.stringify({ text: 'a b c d', chunkSize: 1, pauseMs: 250 });

/** The percentages of the progress lines (`  25% chunk 1/4: 1 words`) in order. */
const percentages = (output: string) => [...output.matchAll(/^\s*(\d+)% /gm)].map((match) => Number(match[1]));

/** No stack trace, no Node error dump: a one-line `jobgraph: …` message. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(/^jobgraph: /);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('jobgraph, the command line', () => {
  let server: CliTestServer;
  const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
    runProcess(process.execPath, [bin, ...args], { JOBGRAPH_URL: server.url, ...env });

  beforeAll(async () => {
    server = await startCliTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('enqueue --watch: prints the id, a line per progress change up to 100%, the result, and exits 0', async () => {
    const run = await cli(['enqueue', 'demo.countWords', '--input', COUNT_FOUR, '--watch']);
    expect(run.code, run.stderr).toBe(0);
    const [id, outcome, result, ...rest] = run.stdout.trim().split('\n');
    expect(id).toMatch(UUID);
    expect(outcome).toMatch(/^COMPLETED in \d+\.\d s$/);
    expect(JSON.parse(result!)).toEqual({ words: 4 });
    expect(rest).toEqual([]);
    // Not a TTY: lines, no bar.
    const seen = percentages(run.stderr);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBe(100);
    expect(run.stderr).toMatch(/^ +25% chunk 1\/4: 1 words$/m);
    expect(run.stderr).toMatch(/^100% COMPLETED chunk 4\/4: 4 words$/m);
    expect(run.stderr).not.toContain('\u2588');
    expect((await waitForJob(server.system, id!)).status).toBe('COMPLETED');
  });

  it('enqueue without --watch prints only the id; --json prints the job; watch <id> follows an existing job', async () => {
    const plain = await cli(['enqueue', 'demo.countWords', '--input', COUNT_FOUR]);
    expect(plain.code, plain.stderr).toBe(0);
    const id = plain.stdout.trim();
    expect(id).toMatch(UUID);
    const json = await cli(['enqueue', 'demo.countWords', '--input', '{"text":"x y"}', '--json', '--idempotency-key', `k-${id}`, '--priority=-5']);
    expect(json.code, json.stderr).toBe(0);
    const job = JSON.parse(json.stdout);
    expect(job).toMatchObject({ type: 'demo.countWords', deduplicated: false });
    expect((await server.system.getJob(job.id))?.priority).toBe(-5);
    const again = await cli(['enqueue', 'demo.countWords', '--input', '{"text":"x y"}', '--json', '--idempotency-key', `k-${id}`]);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: job.id, deduplicated: true });
    expect(again.stderr).toMatch(/idempotency key was used before/);

    const watched = await cli(['watch', id, '--json']);
    expect(watched.code, watched.stderr).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ id, status: 'COMPLETED', progress: 100, result: { words: 4 } });
  });

  it('a job that fails: enqueue --watch and watch exit 1 with its error code; retry puts it back QUEUED', async () => {
    const run = await cli(['enqueue', 'test.refuses', '--input', '{}', '--watch']);
    expect(run.code, run.stderr).toBe(1);
    const [id, outcome] = run.stdout.trim().split('\n');
    expect(outcome).toMatch(/^FAILED in .*: BAD_DATA this input can never succeed$/);
    expect(run.stderr).toMatch(/FAILED/);

    const watched = await cli(['watch', id!]);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/BAD_DATA/);

    const listed = await cli(['jobs', '--json', '--task', 'test.refuses']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ id, type: 'test.refuses', status: 'FAILED', error: { code: 'BAD_DATA', message: 'this input can never succeed' } }));

    const retried = await cli(['retry', id!]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout.trim()).toBe('QUEUED');
    const job = await waitForJob(server.system, id!);
    expect(job.attempt).toBe(2);
  });

  it('jobs: a table newest first, filtered by status and task; --json; --first', async () => {
    const first = (await cli(['enqueue', 'test.echo', '--input', '{"value":1}'])).stdout.trim();
    const second = (await cli(['enqueue', 'test.echo', '--input', '{"value":2}'])).stdout.trim();
    await waitForJob(server.system, first);
    await waitForJob(server.system, second);
    const run = await cli(['jobs', '--task', 'test.echo', '--status', 'completed,failed']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+TASK\s+STATUS\s+PROGRESS\s+ATTEMPT\s+CREATED \(UTC\)$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[0])).toEqual([second, first]);
    expect(lines[1]).toMatch(new RegExp(`^${second}\\s+test\\.echo\\s+COMPLETED\\s+\\d+%\\s+1/4\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`));

    const none = await cli(['jobs', '--task', 'test.echo', '--status', 'RUNNING']);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toMatch(/no jobs/);

    const one = await cli(['jobs', '--first', '1', '--json']);
    const page = JSON.parse(one.stdout);
    expect(page).toHaveLength(1);
    expect(one.stderr).toMatch(/more jobs than these 1/);
  });

  it('tasks: name, phase, mutation and description; --json', async () => {
    const run = await cli(['tasks']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^NAME\s+PHASE\s+MUTATION\s+DESCRIPTION$/m);
    expect(run.stdout).toMatch(/^demo\.countWords\s+PLANNING\s+countWords\s+Counts the words of a text/m);
    const json = JSON.parse((await cli(['tasks', '--json'])).stdout);
    expect(json).toContainEqual(expect.objectContaining({ name: 'test.sleep', phase: 'TEST_EXECUTION', mutation: 'sleep' }));
  });

  it('cancel: a running job ends CANCELLED, and the command prints it; a completed one cannot be cancelled', async () => {
    const id = (await cli(['enqueue', 'test.sleep', '--input', '{"ms":60000}'])).stdout.trim();
    await waitForJob(server.system, id, 'RUNNING');
    const run = await cli(['cancel', id]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('CANCELLED');
    expect((await server.system.getJob(id))?.status).toBe('CANCELLED');
    // Cancelling twice is harmless: the job as it is.
    const again = await cli(['cancel', id]);
    expect(again).toMatchObject({ code: 0, stdout: 'CANCELLED\n' });

    const done = (await cli(['enqueue', 'test.echo', '--input', '{}'])).stdout.trim();
    await waitForJob(server.system, done, 'COMPLETED');
    const late = await cli(['cancel', done]);
    expect(late.code).toBe(3);
    expectOneLineError(late, /^jobgraph: ILLEGAL_TRANSITION Job \S+ cannot go from COMPLETED to CANCELLED\n$/);
  });

  it('refused input: the error code and field path, exit 3; a command line mistake, exit 2', async () => {
    const bad = await cli(['enqueue', 'demo.countWords', '--input', '{"text":3}']);
    expect(bad.code).toBe(3);
    expectOneLineError(bad, /^jobgraph: BAD_USER_INPUT input\.text: .*expected string/);

    const unknownTask = await cli(['enqueue', 'demo.nope', '--input', '{}']);
    expect(unknownTask.code).toBe(3);
    expectOneLineError(unknownTask, /BAD_USER_INPUT type: No task named "demo\.nope".*jobgraph tasks/);

    const unknownJob = await cli(['watch', '00000000-0000-4000-8000-000000000000']);
    expect(unknownJob.code).toBe(3);
    expectOneLineError(unknownJob, /JOB_NOT_FOUND/);

    for (const [args, pattern] of [
      [['enqueue', 'demo.countWords', '--input', '{"text":'], /--input is not valid JSON/],
      [['enqueue'], /enqueue needs <task>/],
      [['jobs', '--status', 'DONE'], /--status DONE: not a status/],
      [['jobs', '--first', 'ten'], /--first must be a whole number/],
      [['tasks', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['tasks', '--url', 'not a url'], /--url "not a url" is not a URL/],
    ] as const) {
      const run = await cli([...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expectOneLineError(run, pattern);
    }
    const help = await cli(['enqueue', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: jobgraph enqueue <task> \[options\]/);
    expect(help.stdout).toMatch(/--idempotency-key K/);
  });

  it('API down: exit 3 and a message that says so, for a query and for watch', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/graphql`;
    for (const args of [['jobs'], ['watch', '00000000-0000-4000-8000-000000000000']]) {
      const run = await cli(args, { JOBGRAPH_URL: url });
      expect(run.code).toBe(3);
      expectOneLineError(run, new RegExp(`^jobgraph: cannot reach the jobgraph API at ${url.replaceAll('.', '\\.')}: connection refused; is \`npm start\` running\\?$`, 'm'));
    }
  });

  it('tokens: a wrong or missing one is exit 3 with a clear message; the right one works, --token or JOBGRAPH_TOKEN', async () => {
    const secured = { JOBGRAPH_URL: server.securedUrl };
    const wrong = await cli(['jobs', '--token', 'not-a-token'], secured);
    expect(wrong.code).toBe(3);
    expectOneLineError(wrong, /the API refused the token; check --token or JOBGRAPH_TOKEN \(UNAUTHENTICATED: The token is not valid\)/);

    const wrongWatch = await cli(['watch', '00000000-0000-4000-8000-000000000000'], { ...secured, JOBGRAPH_TOKEN: 'not-a-token' });
    expect(wrongWatch.code).toBe(3);
    expectOneLineError(wrongWatch, /the API refused the token/);

    const missing = await cli(['tasks'], secured);
    expect(missing.code).toBe(3);
    expectOneLineError(missing, /the API needs a token; pass --token or set JOBGRAPH_TOKEN/);

    const viewer = await cli(['enqueue', 'test.echo', '--input', '{}', '--token', TOKENS.viewer], secured);
    expect(viewer.code).toBe(3);
    expectOneLineError(viewer, /FORBIDDEN: A viewer cannot change jobs or runs/);

    const ok = await cli(['enqueue', 'test.echo', '--input', '{"steps":2}', '--watch', '--json'], { ...secured, JOBGRAPH_TOKEN: TOKENS.operator });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'COMPLETED', createdBy: 'olga' });
  });

  // `script` (util-linux) runs the command in a pseudo-terminal, so stderr is a TTY and
  // cli-progress draws; without it there is no pty to test with (no new dependency for one).
  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('in a terminal (a pty from `script`): the bar is drawn and redrawn in place, then the outcome', async () => {
    const command = [process.execPath, bin, 'enqueue', 'demo.countWords', '--input', COUNT_FOUR, '--watch'].map(shellQuote).join(' ');
    const run = await runProcess('script', ['-qfec', command, '/dev/null'], { JOBGRAPH_URL: server.url, COLUMNS: '100', LINES: '30' });
    expect(run.code, run.stdout).toBe(0);
    const screen = run.stdout;
    expect(screen).toMatch(/\u2588+\u2591+ 25% chunk 1\/4: 1 words/);
    expect(screen).toMatch(/\u2588{30} 100% COMPLETED chunk 4\/4: 4 words/);
    // Redrawn in place (cursor to column 1), not a line per change; the cursor hidden, then shown.
    expect(screen).toContain('\u001b[1G');
    expect(screen).not.toMatch(/^ +25% chunk 1\/4/m);
    expect(screen).toContain('\u001b[?25l');
    expect(screen).toContain('\u001b[?25h');
    expect(screen).toMatch(/COMPLETED in \d+\.\d s\r?\n\{"words":4\}/);
  });

  it('run: start the report testing, watch it line by line, approve its gates (an approver, not who started it), show and list it', async () => {
    const seeded = await server.system.enqueue('demo.seedDemoData', { records: 300 });
    await waitForJob(server.system, seeded.job.id, 'COMPLETED', 60_000);
    const [report] = await server.system.db.prisma.report.findMany();
    const [dataset] = await server.system.db.prisma.dataset.findMany();
    const secured = (token: string) => ({ JOBGRAPH_URL: server.securedUrl, JOBGRAPH_TOKEN: token });
    const started = await cli(['run', 'start', '--report', report!.id, '--dataset', dataset!.id, '--size', '20', '--seed', '3'], secured(TOKENS.operator));
    expect(started.code, started.stderr).toBe(0);
    const [id, status] = started.stdout.trim().split(' ');
    expect(id).toMatch(UUID);
    expect(status).toBe('RUNNING');

    const watching = cli(['run', 'watch', id!], secured(TOKENS.operator));
    const gateOpen = async (gate: string) => {
      const view = await waitFor(() => server.system.runs.get(id!), (v) => v!.run.status !== 'RUNNING', 60_000, gate);
      expect(view!.steps.find((step) => step.name === gate)!.status, view!.run.reason ?? '').toBe('WAITING');
    };
    await gateOpen('scopingSignOff');
    const self = await cli(['run', 'approve', id!, 'scopingSignOff'], secured(TOKENS.operator));
    expect(self.code).toBe(3);
    expectOneLineError(self, /FORBIDDEN/);
    const approved = await cli(['run', 'approve', id!, 'scopingSignOff', '--comment', 'scope ok'], secured(TOKENS.approver));
    expect(approved.code, approved.stderr).toBe(0);
    await gateOpen('resultsSignOff');
    expect((await cli(['run', 'approve', id!, 'resultsSignOff'], secured(TOKENS.approver))).code).toBe(0);

    const watched = await watching;
    expect(watched.code, `${watched.stdout}\n${watched.stderr}`).toBe(0);
    expect(watched.stderr).toMatch(/waiting for sign-off: scopingSignOff/);
    expect(watched.stderr).toMatch(/^\s*\d+ scopingSignOff COMPLETED approved: scope ok \(rita\)$/m);
    expect(watched.stderr).toMatch(/^\s*\d+ run COMPLETED every step completed$/m);
    expect(watched.stdout).toMatch(new RegExp(`^run ${id} \\(reportTesting\\) COMPLETED 100%`, 'm'));

    const shown = await cli(['run', 'show', id!, '--json'], secured(TOKENS.operator));
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, status: 'COMPLETED' });
    const listed = await cli(['run', 'list', '--status', 'completed'], secured(TOKENS.operator));
    expect(listed.stdout.split('\n')[1]).toMatch(new RegExp(`^${id} +reportTesting +COMPLETED +olga`));
    const bad = await cli(['run', 'frobnicate'], secured(TOKENS.operator));
    expect(bad.code).toBe(2);
    expectOneLineError(bad, /run needs an action: start, watch/);
  }, 120_000);
});

const shellQuote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

