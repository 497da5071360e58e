import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/api/server.ts';
import { createApi } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTaskDeps } from '../../src/tasks/deps.ts';
import { createTestDatabase, withAdmin, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName } from '../helpers/system.ts';

/**
 * The dashboard (src/dashboard) for browser tests: built with `npm run build`, served by the API's
 * listener (src/api/server.ts, with the handler of src/api/dashboard.ts), driven in headless
 * Chromium against a real API: inline queue, a PostgreSQL ledger of its own, tokens for an
 * operator, a viewer of the same name (a viewer sees only their own jobs, so the viewer shares
 * the operator's name to see anything) and an approver.
 */
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const TOKEN_KEY = 'jobgraph.dashboard.token';
export const OPERATOR = 'tok-ops';
export const VIEWER = 'tok-ops-viewer';
export const APPROVER = 'tok-rev';
/**
 * The one console error a page may show: Chromium logs the 401 with which the API answers a
 * request without a token, which is how the dashboard learns that it must ask for one.
 */
const EXPECTED_401 = /^Failed to load resource: the server responded with a status of 401/;
/** Serialises builds across vitest workers (an advisory lock on the base database, as for the migrated template). */
const BUILD_LOCK = 7_270_736_902;
const SOURCES = [join(root, 'src/dashboard'), join(root, 'package-lock.json')];
const BUILT = join(root, 'dist/dashboard/index.html');

/** The newest modification time of a file under `path`. */
function newest(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/**
 * `npm run build`, unless the build is newer than every source. Test files that drive the
 * dashboard run side by side, and a build empties dist/dashboard first: under the lock, the
 * first file builds and the others find the build fresh instead of emptying it under its pages.
 */
export async function buildDashboard(): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1)', [BUILD_LOCK]);
    if (existsSync(BUILT) && statSync(BUILT).mtimeMs > Math.max(...SOURCES.map(newest))) return; // the lock goes with the connection
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  });
  expect(existsSync(BUILT)).toBe(true);
}

export interface OpenOptions {
  /** Signed in with this token (kept in the tab's sessionStorage, as the token prompt keeps it). */
  token?: string | undefined;
  colorScheme?: 'light' | 'dark';
}

/** A dashboard served by a real API, and a browser to drive it; `close` stops everything. */
export interface DashboardServer {
  system: JobSystem;
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  browser: Browser;
  /** A fresh browser tab (own sessionStorage) at `path`, signed in with a token when given (a string: the token). */
  open(path: string, options?: string | OpenOptions): Promise<Page>;
  /** Closes the tabs opened so far; hands back the console errors and uncaught exceptions they showed. */
  closePages(): Promise<string[]>;
  /** A GraphQL request as `token` (the operator unless told); fails on any error. */
  graphql(query: string, variables?: Record<string, unknown>, token?: string): Promise<any>;
  /** Enqueues a job through the API; its id. */
  enqueue(type: string, input: unknown): Promise<string>;
  close(): Promise<void>;
}

export async function serveDashboard(): Promise<DashboardServer> {
  await buildDashboard();
  const database: TestDatabase = await createTestDatabase();
  const harness = new Harness(
    testEnv({
      DATABASE_URL: database.url,
      QUEUE_BACKEND: 'inline',
      QUEUE_NAME: uniqueName('dash'),
      API_TOKENS: `ops:${OPERATOR}:operator,ops:${VIEWER}:viewer,rev:${APPROVER}:approver`,
    }),
  );
  let http: HttpServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await http?.close();
    await harness.stopAll();
    await database.drop();
  };
  try {
    const system = await harness.start({}, { deps: createTaskDeps({ LLM_CONCURRENCY: 4 }) });
    http = createHttpServer(createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger), system, system.logger);
    const port = await http.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const contexts: BrowserContext[] = [];
    const problems: string[] = [];

    const graphql = async (query: string, variables: Record<string, unknown> = {}, token = OPERATOR) => {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      expect(body.errors).toBeUndefined();
      return body.data;
    };

    return {
      system,
      port,
      base,
      browser,
      async open(path, options = {}) {
        const { token, colorScheme = 'light' } = typeof options === 'string' ? { token: options } : options;
        const context = await browser!.newContext({ viewport: { width: 1280, height: 860 }, colorScheme });
        contexts.push(context);
        if (token) await context.addInitScript(([key, value]) => sessionStorage.setItem(key!, value!), [TOKEN_KEY, token]);
        const page = await context.newPage();
        page.on('console', (message) => {
          if (message.type() === 'error' && !EXPECTED_401.test(message.text())) problems.push(`console: ${message.text()}`);
        });
        page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
        await page.goto(`${base}${path}`);
        return page;
      },
      async closePages() {
        for (const context of contexts.splice(0)) await context.close();
        return problems.splice(0);
      },
      graphql,
      async enqueue(type, input) {
        const data = await graphql('mutation($type: String!, $input: JSON!) { enqueueJob(type: $type, input: $input) { job { id } } }', { type, input });
        return data.enqueueJob.job.id as string;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
