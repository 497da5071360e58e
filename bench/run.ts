// `npm run bench` runs every benchmark in sequence, each in a process of its own;
// `npm run bench -- throughput fanout` runs those named. Sizes come from the BENCH_* variables
// (see BENCHMARKS.md).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineInfo, printMachine, ROOT } from './lib.ts';

const BENCHES = ['layout', 'api-latency', 'throughput', 'enqueue-latency', 'progress-latency', 'fanout', 'startup', 'profile-dataset', 'cli', 'cli-start', 'flow', 'module-cost', 'embedded'] as const;
/** No bench may run longer than this; its process group is killed after. */
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 20 * 60_000);

const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((a) => !(BENCHES as readonly string[]).includes(a));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${BENCHES.join(', ')}`);
  process.exit(2);
}
const chosen = asked.length ? BENCHES.filter((b) => asked.includes(b)) : [...BENCHES];

printMachine(await machineInfo());
console.log(`command: npm run bench${asked.length ? ` -- ${asked.join(' ')}` : ''}; benchmarks: ${chosen.join(', ')}\n`);

const failed: string[] = [];
for (const name of chosen) {
  console.log(`\n════ ${name} ════\n`);
  const started = performance.now();
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: 'inherit' });
  const timer = setTimeout(() => {
    console.error(`${name}: still running after ${TIMEOUT_MS} ms; stopping it`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  }, TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  console.log(`\n(${name}: ${((performance.now() - started) / 1000).toFixed(0)} s, exit ${code})`);
  if (code !== 0) failed.push(name);
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
