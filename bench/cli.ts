// The `jobgraph` CLI's start: from spawn to its first byte of output, for `--help` and for
// `tasks` against a port where nothing listens (its error is its first output: everything a
// command loads before it talks to the API). Node runs bin/jobgraph.mjs as `npx jobgraph` does;
// BENCH_AB=<checkout> runs the code before beside it, alternating. BENCH_CLI_RUNS (10) each.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { envInt, fmt, freePort, median, ROOT, runMain, table, verdict, writeResult } from './lib.ts';

runMain(async () => {
  const runs = envInt('BENCH_CLI_RUNS', 10);
  const closed = await freePort();
  const commands: [string, string[]][] = [
    ['jobgraph --help', ['--help']],
    ['jobgraph tasks (no API there)', ['tasks', '--url', `http://127.0.0.1:${closed}/graphql`]],
  ];
  const codes: [string, string][] = [['this', ROOT]];
  if (process.env.BENCH_AB) codes.push(['before', process.env.BENCH_AB]);
  const samples: { command: string; code: string; ms: number }[] = [];
  for (let run = 0; run < runs; run++) {
    for (const [command, args] of commands) {
      for (const [code, root] of run % 2 ? [...codes].reverse() : codes) samples.push({ command, code, ms: await firstOutputMs(root, args) });
    }
  }
  const rows = commands.flatMap(([command]) =>
    codes.map(([code]) => {
      const values = samples.filter((s) => s.command === command && s.code === code).map((s) => s.ms);
      return [command, code, `${fmt(median(values), 0)} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`, code === 'this' ? verdict(median(values) <= 300) : ''];
    }),
  );
  console.log(`\njobgraph CLI, spawn to first output (ms), median (range) of ${runs}\n`);
  console.log(table(['command', 'code', 'ms to first output', 'target ≤ 300'], rows));
  await writeResult('cli', { runs, samples });
});

function firstOutputMs(root: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(root, 'bin/jobgraph.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let first: number | undefined;
    const mark = () => (first ??= performance.now() - started);
    child.stdout.once('data', mark);
    child.stderr.once('data', mark);
    child.once('error', reject);
    child.once('exit', () => (first === undefined ? reject(new Error(`jobgraph ${args.join(' ')} printed nothing`)) : resolve(first)));
  });
}
