import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `jobgraph` (bin/jobgraph.mjs) as a user runs it: a child process, read by its stdout, stderr and exit status. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = fileURLToPath(new URL('../../bin/jobgraph.mjs', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file args…` to its end (at most 45 s) with the CLI's variables set for `url`. */
export function runProcess(file: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, JOBGRAPH_TOKEN: undefined, JOBGRAPH_URL: undefined, ...env })) {
    if (value !== undefined) childEnv[name] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `jobgraph args…` against the API at `url`. */
export const runCli = (url: string, args: string[], env: Record<string, string | undefined> = {}) =>
  runProcess(process.execPath, [bin, ...args], { JOBGRAPH_URL: url, ...env });
