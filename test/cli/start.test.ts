import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { bin, root, runProcess } from './run.ts';

/**
 * What `jobgraph` loads before its first output: the command table, then the one command's
 * module, and nothing of the server nor the packages it does not use there. zod (with the job
 * system's rules), graphql (with graphql-sse's server half) and cli-progress made `jobgraph --help`
 * take 0.3 s on their own (bench/cli-start.ts). Each run lists every module Node loads (a
 * registerHooks load hook, which sees require() too); the API is a port where nothing listens, so
 * each command stops at its first request, having loaded what it needs to make it.
 */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, next) { appendFileSync(process.env.JOBGRAPH_TEST_MODULES, url + '\\n'); return next(url, context); } });
`)}`;
const ROOT = pathToFileURL(root).href;

describe('jobgraph start: what a command loads', () => {
  let dir: string;
  let url: string;
  let runs = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jobgraph-start-'));
    url = `http://127.0.0.1:${await freePort()}/graphql`;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The modules `jobgraph args…` loaded: node_modules packages by name, files of this repo by path. */
  async function loaded(args: string[], code: number): Promise<{ packages: Set<string>; files: string[] }> {
    const list = join(dir, `modules-${++runs}.txt`);
    const run = await runProcess(process.execPath, ['--import', HOOK, bin, ...args], { JOBGRAPH_URL: url, JOBGRAPH_TEST_MODULES: list });
    expect(run.code, run.stderr).toBe(code);
    const urls = (await readFile(list, 'utf8')).trim().split('\n');
    const packages = new Set(urls.flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []));
    const files = urls.filter((u) => u.startsWith(ROOT) && !u.includes('/node_modules/')).map((u) => u.slice(ROOT.length));
    return { packages, files };
  }

  it('--help: the command table alone, no package at all', async () => {
    const { packages, files } = await loaded(['--help'], 0);
    expect([...packages]).toEqual([]);
    expect(files.sort()).toEqual(
      ['bin/jobgraph.mjs', 'src/adapters/types.ts', 'src/cli/args.ts', 'src/cli/commands.ts', 'src/cli/display.ts', 'src/cli/errors.ts', 'src/cli/limits.ts', 'src/cli/main.ts'].sort(),
    );
  });

  it('tasks, jobs, enqueue: their module and the HTTP client, no package (no zod, no graphql)', async () => {
    for (const args of [['tasks'], ['jobs', '--status', 'FAILED'], ['enqueue', 'demo.countWords', '--priority', '5']]) {
      const { packages, files } = await loaded(args, 3);
      expect([...packages], args.join(' ')).toEqual([]);
      expect(files, args.join(' ')).toContain('src/cli/job-commands.ts');
      expect(files.filter((f) => f.startsWith('src/') && !/^src\/(cli|lib)\/|^src\/adapters\/types\.ts$/.test(f)), args.join(' ')).toEqual([]);
      expect(files, args.join(' ')).not.toContain('src/cli/run-command.ts');
    }
  });

  it("watch: graphql-sse's client, not its server half (graphql); run and schedules load only their own module", async () => {
    const watch = await loaded(['watch', '00000000-0000-0000-0000-000000000000'], 3);
    expect([...watch.packages]).toEqual(['graphql-sse']);
    const run = await loaded(['run', 'show', '00000000-0000-0000-0000-000000000000'], 3);
    expect([...run.packages]).toEqual([]);
    expect(run.files).toContain('src/cli/run-command.ts');
    expect(run.files).not.toContain('src/cli/job-commands.ts');
    const schedules = await loaded(['schedules'], 3);
    expect([...schedules.packages]).toEqual([]);
    expect(schedules.files).toContain('src/cli/schedule-command.ts');
    expect(schedules.files).not.toContain('src/cli/job-commands.ts');
  });
});
