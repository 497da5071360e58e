import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardHandler } from '../../src/api/dashboard.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { waitFor, waitForJob } from '../helpers/system.ts';
import { APPROVER, OPERATOR, root, serveDashboard, TOKEN_KEY, VIEWER, type DashboardServer } from './serve.ts';

/**
 * The dashboard, built and served by the API's listener and driven in headless Chromium against a
 * real API (test/dashboard/serve.ts): its handler, the token prompt, the live pages, the actions.
 */

/** A raw GET, so that paths like /dashboard/../x reach the server as written. */
function rawGet(port: number, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard', () => {
  let dashboard: DashboardServer;
  let system: JobSystem;
  let port: number;
  let base: string;

  beforeAll(async () => {
    dashboard = await serveDashboard();
    ({ system, port, base } = dashboard);
  }, 120_000);

  afterEach(async () => {
    // No console errors and no uncaught exceptions on any page of the test.
    expect(await dashboard.closePages()).toEqual([]);
  });

  afterAll(async () => {
    await dashboard?.close();
  });

  /** A fresh browser tab (own sessionStorage), signed in with `token` when given. */
  const open = (path: string, token?: string): Promise<Page> => dashboard.open(path, token);
  const graphql = (query: string, variables: Record<string, unknown> = {}, token = OPERATOR): Promise<any> => dashboard.graphql(query, variables, token);
  const enqueue = (type: string, input: unknown): Promise<string> => dashboard.enqueue(type, input);

  const head = (page: Page) => page.locator('section[aria-labelledby="job-title"]');
  const bar = (page: Page) => head(page).getByRole('progressbar', { name: 'Job progress' });

  describe('the handler', () => {
    it('serves the app with content types, index.html for its routes, 404 for missing files and paths outside', async () => {
      const index = await fetch(`${base}/dashboard`);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
      const html = await index.text();
      expect(html).not.toMatch(/https?:\/\//); // everything bundled, nothing from a CDN

      const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)![1]!;
      const style = /href="(\/dashboard\/assets\/[^"]+\.css)"/.exec(html)![1]!;
      const js = await fetch(`${base}${script}`);
      expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(js.headers.get('cache-control')).toContain('immutable');
      expect((await fetch(`${base}${style}`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
      const etag = js.headers.get('etag')!;
      expect((await fetch(`${base}${script}`, { headers: { 'if-none-match': etag } })).status).toBe(304);

      for (const route of ['/dashboard/', '/dashboard/jobs', '/dashboard/jobs/6f1d6a52-3d7c-4e55-9a0e-2b8f1c5d2e10?x=1']) {
        const page = await fetch(`${base}${route}`);
        expect(page.status, route).toBe(200);
        expect(await page.text(), route).toBe(html);
      }
      expect((await fetch(`${base}/dashboard/assets/missing.js`)).status).toBe(404);
      for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/..%2f..%2fpackage.json', '/dashboard/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/dashboard/%00.js']) {
        const answer = await rawGet(port, path);
        expect(answer.status, path).toBe(404);
        expect(answer.body, path).not.toContain('"name": "jobgraph"');
      }
      expect((await rawGet(port, '/dashboard/%E0%A4%A')).status).toBe(400);
      expect((await fetch(`${base}/dashboard`, { method: 'POST' })).status).toBe(405);
      // Not its paths: the API answers as before; / leads to the dashboard.
      expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
      const home = await fetch(`${base}/`, { redirect: 'manual' });
      expect([home.status, home.headers.get('location')]).toEqual([302, '/dashboard/']);
      expect((await fetch(`${base}/dashboards`)).status).not.toBe(200);
    });

    it('answers 503 "not built: run npm run build" when the build is missing, and leaves other paths alone', async () => {
      const empty = mkdtempSync(join(tmpdir(), 'dashboard-'));
      try {
        const handler = createDashboardHandler({ dir: join(empty, 'nothing') });
        const answers: { status?: number; headers?: unknown; body?: string } = {};
        const res = {
          headersSent: false,
          writeHead(status: number, headers: unknown) {
            answers.status = status;
            answers.headers = headers;
            return this;
          },
          end(body?: string) {
            answers.body = body;
            return this;
          },
        };
        expect(await handler({ url: '/dashboard/jobs', method: 'GET', headers: {} } as never, res as never)).toBe(true);
        expect(answers.status).toBe(503);
        expect(answers.body).toContain('The dashboard is not built: run <code>npm run build</code>');
        expect(await handler({ url: '/graphql', method: 'GET', headers: {} } as never, res as never)).toBe(false);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });
  });

  it('asks for a token once, says when it is wrong, and keeps it for the tab', async () => {
    const page = await open('/dashboard/');
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Use this token' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('The token is not valid');
    await page.getByLabel('API token').fill(OPERATOR);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByRole('heading', { name: 'Backend' }).waitFor();
    expect(await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY)).toBe(OPERATOR);
    await page.reload();
    await page.getByRole('heading', { name: 'Backend' }).waitFor();
    await page.getByText('ops · operator').waitFor();
    await page.getByText('● live').waitFor();
  });

  it('enqueues demo.countWords from the page and follows its bar to 100 and COMPLETED', async () => {
    const page = await open('/dashboard/enqueue', OPERATOR);
    const input = page.getByLabel('Input (JSON)');
    await expect.poll(() => input.inputValue()).toContain('"pauseMs": 400');
    expect(JSON.parse(await input.inputValue())).toEqual({ text: 'one two three four five six seven eight', chunkSize: 1, pauseMs: 400 });
    await page.getByRole('button', { name: 'Enqueue', exact: true }).click();
    await page.waitForURL(/\/dashboard\/jobs\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').at(-1)!;

    const seen = new Set<number>();
    await waitFor(
      async () => Number(await bar(page).getAttribute('aria-valuenow')),
      (value) => (seen.add(value), value === 100),
      20_000,
      'the progress bar to reach 100',
    );
    expect([...seen].some((value) => value > 0 && value < 100)).toBe(true); // it moved, not jumped
    await head(page).getByText('COMPLETED', { exact: true }).waitFor();
    await page.getByRole('region', { name: 'Result' }).getByText('"words": 8').waitFor();
    expect((await system.getJob(id))!.status).toBe('COMPLETED');
  });

  it('lists jobs live: one enqueued through the API appears within a second, its bar moves; filters narrow', async () => {
    const page = await open('/dashboard/jobs', OPERATOR);
    await page.getByText('● live').waitFor();
    await page.getByRole('status').filter({ hasText: /jobs?$/ }).waitFor();
    // Handshake: a job enqueued now shows only through the jobUpdates subscription (the list was
    // read before it), so once its row is there the subscription is attached.
    const warmUp = await enqueue('test.echo', { value: 'warm-up' });
    await page.locator(`tr[data-job-id="${warmUp}"]`).waitFor({ timeout: 15_000 });

    const started = Date.now();
    const id = await enqueue('demo.countWords', { text: 'a b c d e f', chunkSize: 1, pauseMs: 300 });
    const row = page.locator(`tr[data-job-id="${id}"]`);
    await row.waitFor({ timeout: 1_000 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await page.locator('tbody tr').first().getAttribute('data-job-id')).toBe(id); // newest first

    const progress = row.getByRole('progressbar');
    const seen = new Set<number>();
    await waitFor(async () => Number(await progress.getAttribute('aria-valuenow')), (value) => (seen.add(value), value === 100), 20_000, 'the row to reach 100');
    expect([...seen].some((value) => value > 0 && value < 100)).toBe(true);
    await row.getByText('COMPLETED', { exact: true }).waitFor();

    // Text in the id (its last digits, as the list shows it: a UUIDv7 begins with its creation time) or the input.
    await page.getByLabel('Id or input contains').fill(id.slice(-8));
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('Id or input contains').fill('nothing-has-this');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(0);
    await page.getByLabel('Id or input contains').fill('');
    // Status, by the API.
    await page.getByLabel('Status').selectOption('FAILED');
    await expect.poll(() => page.url()).toContain('status=FAILED');
    await expect.poll(() => row.count()).toBe(0);
    await page.getByLabel('Status').selectOption('COMPLETED');
    await row.waitFor();
    // Phase and task.
    await page.getByLabel('Phase').selectOption('SCOPING');
    await expect.poll(() => row.count()).toBe(0);
    await page.getByLabel('Phase').selectOption('PLANNING');
    await page.getByLabel('Task').selectOption('demo.countWords');
    await row.waitFor();
  });

  it('a page of older jobs that arrives after the filter changed is not shown under the new filter', async () => {
    const echoes = await graphql('mutation($jobs: [EnqueueJobInput!]!) { enqueueJobs(jobs: $jobs) { job { id } } }', {
      jobs: Array.from({ length: 60 }, (_, i) => ({ type: 'test.echo', input: { value: i } })),
    });
    await Promise.all(echoes.enqueueJobs.map(({ job }: { job: { id: string } }) => waitForJob(system, job.id)));
    const refused = await enqueue('test.refuses', {});
    await waitForJob(system, refused);

    const page = await open('/dashboard/jobs?type=test.echo', OPERATOR);
    await expect.poll(() => page.locator('tbody tr').count()).toBe(50);
    // Hold the request for the next page until the filter has changed.
    let release: (() => Promise<void>) | undefined;
    const held = new Promise<void>((resolve) => {
      void page.route('**/graphql', async (route) => {
        if (!route.request().postDataJSON()?.variables?.after) return route.continue();
        release = () => route.continue();
        resolve();
      });
    });
    await page.getByRole('button', { name: 'Load older jobs' }).click();
    await held;
    await page.getByLabel('Task').selectOption('test.refuses');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    const late = page.waitForResponse((response) => Boolean(response.request().postDataJSON()?.variables?.after));
    await release!();
    await late;
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))); // rendered
    expect(await page.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job-id')))).toEqual([refused]);
  });

  it('cancels a running job from its detail page', async () => {
    const id = await enqueue('test.sleep', { ms: 120_000 });
    await waitForJob(system, id, 'RUNNING');
    const page = await open(`/dashboard/jobs/${id}`, OPERATOR);
    await head(page).getByText('RUNNING', { exact: true }).waitFor();
    expect(await head(page).getByRole('button', { name: 'Retry' }).count()).toBe(0);
    await head(page).getByRole('button', { name: 'Cancel' }).click();
    await head(page).getByText('CANCELLED', { exact: true }).waitFor({ timeout: 10_000 });
    expect(await head(page).getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    await head(page).getByRole('button', { name: 'Retry' }).waitFor();
    // The timeline, live from jobEvents: the handler saw the abort.
    await page.getByRole('list', { name: 'Job events' }).getByText('saw abort: CANCELLED').waitFor();
    expect((await waitForJob(system, id)).status).toBe('CANCELLED');
  });

  it('retries a failed job from its detail page', async () => {
    const id = await enqueue('test.refuses', {});
    await waitForJob(system, id, 'FAILED');
    const page = await open(`/dashboard/jobs/${id}`, OPERATOR);
    await head(page).getByText('FAILED', { exact: true }).waitFor();
    await page.getByRole('region', { name: 'Attempts' }).getByText('final: BAD_DATA: this input can never succeed').waitFor();
    expect(await head(page).getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    await head(page).getByRole('button', { name: 'Retry' }).click();
    // It runs again, as attempt 2, and fails again (it always refuses).
    await page.getByRole('region', { name: 'Details' }).getByText(/^2 of \d+$/).waitFor({ timeout: 10_000 });
    await head(page).getByText('FAILED', { exact: true }).waitFor({ timeout: 10_000 });
    const job = await waitForJob(system, id, 'FAILED');
    expect(job.attempt).toBe(2);
  });

  it('shows each failed attempt with its reason (screenshot docs/dashboard-job.png)', async () => {
    const id = await enqueue('test.flaky', { succeedOnAttempt: 3 });
    await waitForJob(system, id, 'COMPLETED');
    const page = await open(`/dashboard/jobs/${id}`, OPERATOR);
    await head(page).getByText('COMPLETED', { exact: true }).waitFor();
    const attempts = page.getByRole('region', { name: 'Attempts' }).getByRole('listitem');
    await expect.poll(() => attempts.count()).toBe(2);
    expect(await attempts.first().textContent()).toContain('attempt failed (');
    expect(await attempts.first().textContent()).toContain('flaky failure on attempt 1');
    await page.getByRole('list', { name: 'Job events' }).getByText('ATTEMPT').first().waitFor();
    // Completed after failures: the result, not the last attempt's error.
    await page.getByRole('region', { name: 'Result' }).getByText('"attempt": 3').waitFor();
    await page.getByText('● live').waitFor();
    await mkdir(join(root, 'docs'), { recursive: true });
    await page.screenshot({ path: join(root, 'docs/dashboard-job.png'), fullPage: true });
  });

  it('a report testing run: started from the Runs page, its DAG live, each gate signed off by an approver with what it signs (screenshot docs/dashboard-run.png)', async () => {
    const seeded = await system.enqueue('demo.seedDemoData', { records: 2_000 });
    await waitForJob(system, seeded.job.id, 'COMPLETED', 60_000);
    const page = await open('/dashboard/runs', OPERATOR);
    const form = page.getByRole('region', { name: 'Test a report' });
    await form.getByLabel('Sample size').fill('40');
    await form.getByRole('button', { name: 'Start testing' }).click();
    await page.waitForURL(/\/dashboard\/runs\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').at(-1)!;
    // The operator who started it sees the gate wait, but no Approve: an approver decides.
    const firstGate = page.getByRole('region', { name: 'Sign-off: scopingSignOff' });
    await firstGate.waitFor({ timeout: 60_000 });
    await firstGate.getByText('An approver decides this gate.').waitFor();
    expect(await firstGate.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    // The DAG, described for a screen reader; the run is WAITING.
    await page.getByRole('img', { name: /scopingSignOff waiting after scoping/ }).waitFor();

    const reviewer = await open(`/dashboard/runs/${id}`, APPROVER);
    const gate = reviewer.getByRole('region', { name: 'Sign-off: scopingSignOff' });
    // What the reviewer signs off is on the page where they sign: attributes, mappings, scope.
    await reviewer.getByRole('region', { name: 'Attributes, mappings and scope' }).getByText(/attributes in scope/).waitFor();
    await gate.getByLabel('Comment (kept with the decision)').fill('scope reviewed');
    await gate.getByRole('button', { name: 'Approve' }).click();
    const resultsGate = reviewer.getByRole('region', { name: 'Sign-off: resultsSignOff' });
    await resultsGate.waitFor({ timeout: 60_000 });
    await reviewer.getByRole('region', { name: 'Test results' }).getByText(/checks:/).waitFor();
    const profile = reviewer.getByRole('region', { name: 'Dataset profile' });
    await profile.getByText('rows profiled', { exact: false }).waitFor();
    // A row per column, by its name.
    await profile.getByRole('cell', { name: 'loan_id', exact: true }).waitFor();
    await reviewer.getByRole('region', { name: 'Steps' }).getByText(/approved by rev .*“scope reviewed”/).waitFor();
    await mkdir(join(root, 'docs'), { recursive: true });
    // The top of the page: the DAG, the gate and the steps (the review goes on below it).
    await reviewer.screenshot({ path: join(root, 'docs/dashboard-run.png') });

    await resultsGate.getByRole('button', { name: 'Approve' }).click();
    const head = reviewer.locator('section[aria-labelledby="run-title"]');
    await head.getByText('COMPLETED', { exact: true }).waitFor({ timeout: 30_000 });
    // The operator's page followed it live.
    await page.locator('section[aria-labelledby="run-title"]').getByText('COMPLETED', { exact: true }).waitFor({ timeout: 10_000 });
    await page.getByRole('region', { name: 'History' }).getByText('— rev').first().waitFor();
    expect((await system.runs.get(id))!.run.status).toBe('COMPLETED');
  }, 180_000);

  it('a viewer sees no Cancel, Retry or Enqueue', async () => {
    const failed = await enqueue('test.refuses', {});
    const running = await enqueue('test.sleep', { ms: 120_000 });
    await waitForJob(system, failed, 'FAILED');
    await waitForJob(system, running, 'RUNNING');

    const page = await open(`/dashboard/jobs/${failed}`);
    await page.getByLabel('API token').fill(VIEWER);
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByText('ops · viewer').waitFor();
    await head(page).getByText('FAILED', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(await page.getByRole('navigation').getByRole('link', { name: 'Enqueue' }).count()).toBe(0);

    await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).click();
    await page.locator(`tr[data-job-id="${running}"] a`).click();
    await head(page).getByText('RUNNING', { exact: true }).waitFor();
    await bar(page).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);

    await page.goto(`${base}/dashboard/enqueue`);
    await page.getByText('ops is a viewer: enqueuing needs an operator or admin token.').waitFor();
    await graphql('mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: running });
  });

  it('shows the backend, workers, counts and throughput (screenshot docs/dashboard-overview.png)', async () => {
    const ids = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => enqueue('demo.countWords', { text: `w${i} x y`, chunkSize: 1 })),
      enqueue('test.refuses', {}),
    ]);
    for (const id of ids) await waitForJob(system, id);
    const running = await enqueue('test.sleep', { ms: 120_000 });
    await waitForJob(system, running, 'RUNNING');
    // The provider said to wait: the llm limit is paused for every process.
    await system.limits.pause('llm', 120_000, 'LLM endpoint answered 429; retry after 120 s');

    const page = await open('/dashboard/', OPERATOR);
    const backend = page.getByRole('region', { name: 'Backend' });
    await backend.getByText('INLINE', { exact: true }).waitFor();
    expect(await backend.textContent()).toContain('not in use'); // fail-over
    expect(await backend.textContent()).toMatch(/Event bus\s*postgres/);
    expect(await backend.textContent()).toMatch(/Ledger\s*postgres/);
    await page.getByRole('region', { name: 'Probes' }).getByText('ok', { exact: true }).first().waitFor();
    const workers = page.getByRole('region', { name: 'Workers' });
    await expect.poll(() => workers.locator('tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await workers.locator('tbody tr').first().textContent()).toMatch(/INLINE|inline/);

    const counts = await graphql('{ queueInfo { jobCounts { status count } } }');
    const completed = counts.queueInfo.jobCounts.filter((c: any) => c.status === 'COMPLETED').reduce((n: number, c: any) => n + c.count, 0);
    await expect.poll(() => page.locator('[data-status="COMPLETED"]').textContent()).toBe(String(completed));
    const perTask = page.getByRole('table', { name: 'Jobs per task and status' });
    await perTask.getByRole('link', { name: 'demo.countWords' }).waitFor();
    expect(await page.getByTestId('retention').textContent()).toMatch(/kept for 7d \(failed ones for 30d\)\. Oldest job kept: .+ old\./);
    const limits = page.getByRole('region', { name: 'Limits' });
    expect(await limits.getByTestId('limit-llm').textContent()).toMatch(/paused until \d\d?:\d\d:\d\d( [AP]M)?: LLM endpoint answered 429/);
    expect(await limits.getByTestId('limit-gate').textContent()).toMatch(/0 of 2/);

    const chart = page.getByRole('img', { name: /^Throughput over the last hour/ });
    await expect.poll(() => chart.getAttribute('aria-label')).toMatch(/[1-9]\d* completed, [1-9]\d* failed/);
    expect(await workers.locator('tbody tr').first().textContent()).toMatch(/\d+(\.\d)? (ms|s)$/); // heartbeat age

    // Live: a job that ends now shows in the counts without a reload.
    const cancelled = Number(await page.locator('[data-status="CANCELLED"]').textContent());
    await graphql('mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: running });
    await expect.poll(() => page.locator('[data-status="CANCELLED"]').textContent(), { timeout: 10_000 }).toBe(String(cancelled + 1));

    await mkdir(join(root, 'docs'), { recursive: true });
    await page.screenshot({ path: join(root, 'docs/dashboard-overview.png'), fullPage: true });
    await system.limits.resume('llm');
  });

  it('says why a waiting job waits: its concurrency key is busy', async () => {
    const holder = await enqueue('test.keyedQueue', { reportId: 'dashboard', holdMs: 60_000 });
    await waitForJob(system, holder, 'RUNNING');
    const next = await enqueue('test.keyedQueue', { reportId: 'dashboard' });
    await waitFor(async () => (await system.getJob(next))?.waitingOn, Boolean, 10_000, 'the job to be parked');
    const page = await open(`/dashboard/jobs/${next}`, OPERATOR);
    await expect.poll(() => page.getByTestId('waiting-on').textContent()).toBe('concurrency key test.keyedQueue:dashboard (1 at once)');
    await graphql('mutation($id: ID!) { cancelJob(id: $id) { id } }', { id: holder });
    await waitForJob(system, next, 'COMPLETED');
  });
});
