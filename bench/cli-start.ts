// The `jobgraph` CLI's start against a served API: from spawn to its first byte of output, for
// `jobgraph --help` and `jobgraph tasks` (its task table: the whole way to the API and back),
// beside an empty Node (`node -e 0`, to its exit: what any command costs at least). Node runs
// bin/jobgraph.mjs as `npx jobgraph` does, with the compile cache as a user has it from the second
// run on (warm: Node's default cache directory, after two warm-up runs) and as the first run after
// an install or an edit finds it (cold: NODE_COMPILE_CACHE set to an empty directory each run).
// The API is bench/api.ts on a ledger of its own (pg-boss, WORKER_IN_PROCESS=false), started once.
// BENCH_AB=<checkout> runs the CLI of that checkout too (its own bin and src/cli), alternating.
// BENCH_CLI_RUNS (10) runs of each.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase, envInt, fmt, jobgraphEnv, median, randomName, ROOT, runMain, spawnTs, table, verdict, writeResult } from './lib.ts';

interface Sample {
  command: string;
  code: string;
  cache: 'warm' | 'cold';
  ms: number;
}

runMain(async () => {
  const runs = envInt('BENCH_CLI_RUNS', 10);
  const codes: [string, string][] = [['this', ROOT]];
  if (process.env.BENCH_AB) codes.push(['before', process.env.BENCH_AB]);
  const db = await createBenchDatabase();
  const api = spawnTs('./api.ts', { ...jobgraphEnv(db, 'pgboss', 1, randomName('bench_cli')), WORKER_IN_PROCESS: 'false', PORT: '0' });
  const scratch = await mkdtemp(join(tmpdir(), 'jobgraph-cli-start-'));
  try {
    const port = Number((await api.waitFor(/^listening (\d+)$/, 60_000, 'API start'))[1]);
    const env = { JOBGRAPH_URL: `http://127.0.0.1:${port}/graphql`, JOBGRAPH_TOKEN: undefined, NODE_COMPILE_CACHE: undefined };
    const commands: [string, string[]][] = [
      ['jobgraph --help', ['--help']],
      ['jobgraph tasks', ['tasks']],
    ];
    // The API's first answer compiles its resolvers; the CLI's first run fills the warm cache.
    for (const [, root] of codes) for (const [, args] of commands) for (let i = 0; i < 2; i++) await firstOutputMs(process.execPath, [join(root, 'bin/jobgraph.mjs'), ...args], root, env);
    const samples: Sample[] = [];
    const empty: number[] = [];
    for (let run = 0; run < runs; run++) {
      empty.push(await firstOutputMs(process.execPath, ['-e', '0'], ROOT, env, true));
      for (const [command, args] of commands) {
        for (const [code, root] of run % 2 ? [...codes].reverse() : codes) {
          const bin = [join(root, 'bin/jobgraph.mjs'), ...args];
          // The code before enabled no cache: each of its runs is cold.
          if (code === 'before') {
            samples.push({ command, code, cache: 'cold', ms: await firstOutputMs(process.execPath, bin, root, env) });
            continue;
          }
          samples.push({ command, code, cache: 'warm', ms: await firstOutputMs(process.execPath, bin, root, env) });
          // Cold: a cache directory of its own, empty.
          const cold = join(scratch, `cold-${samples.length}`);
          samples.push({ command, code, cache: 'cold', ms: await firstOutputMs(process.execPath, bin, root, { ...env, NODE_COMPILE_CACHE: cold }) });
        }
      }
    }
    const cell = (values: number[]) => `${fmt(median(values), 0)} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`;
    const rows: string[][] = [['node -e 0 (to exit)', '', '', cell(empty), '']];
    for (const [command] of commands) {
      for (const [code] of codes) {
        for (const cache of code === 'before' ? (['cold'] as const) : (['warm', 'cold'] as const)) {
          const values = samples.filter((s) => s.command === command && s.code === code && s.cache === cache).map((s) => s.ms);
          const label = code === 'before' ? 'none (not enabled)' : cache === 'warm' ? 'warm' : 'cold (empty)';
          rows.push([command, code, label, cell(values), code === 'this' ? verdict(median(values) <= 300) : '']);
        }
      }
    }
    console.log(`\njobgraph CLI against a served API, spawn to first output (ms), median (range) of ${runs} runs\n`);
    console.log(table(['command', 'code', 'compile cache', 'ms to first output', 'target ≤ 300'], rows));
    await writeResult('cli-start', { runs, empty, samples });
  } finally {
    await api.stop();
    await db.drop();
    await rm(scratch, { recursive: true, force: true });
  }
});

/** ms from spawn to the first byte on stdout or stderr (or to the exit, with `toExit`); a failed command throws. */
function firstOutputMs(file: string, args: string[], cwd: string, env: Record<string, string | undefined>, toExit = false): Promise<number> {
  const childEnv = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let first: number | undefined;
    let stderr = '';
    const mark = () => (first ??= performance.now() - started);
    child.stdout.once('data', mark);
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => {
      mark();
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.trim()}`));
      else if (toExit) resolve(performance.now() - started);
      else if (first === undefined) reject(new Error(`${args.join(' ')} printed nothing`));
      else resolve(first);
    });
  });
}
