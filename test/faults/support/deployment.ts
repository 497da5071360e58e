import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../helpers/ports.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const START_TIMEOUT_MS = 60_000;
/** Below info the log shows neither "jobgraph started" nor what a fault did to the process. */
const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent']);

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningProcess {
  pid: number;
  logPath: string;
  /** Resolves once the process has exited and its output is in the log file. */
  exited: Promise<Exit>;
  /** Sends `signal` (if it still runs) and resolves with the exit. */
  kill(signal: NodeJS.Signals): Promise<Exit>;
}

export interface ApiProcess extends RunningProcess {
  port: number;
  /** `http://127.0.0.1:<port>`, without /graphql. */
  url: string;
}

export type WorkerProcess = RunningProcess;

/** Children of every deployment of this process, SIGKILLed if the test process exits first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * jobgraph run the way users run it: `src/main.ts` (the API) and `src/worker.ts` as processes of
 * their own, sharing one environment, so a test can SIGKILL or SIGTERM any of them. Each process
 * logs into a file of its own under `logDir`.
 */
export class Deployment {
  readonly #children = new Set<RunningProcess>();
  #apis = 0;
  #workers = 0;

  readonly env: Record<string, string | undefined>;
  readonly logDir: string;
  constructor(env: Record<string, string | undefined>, logDir: string) {
    this.env = env;
    this.logDir = logDir;
  }

  static create(env: Record<string, string | undefined>, logDir: string): Deployment {
    return new Deployment(env, logDir);
  }

  /** An API process without a worker inside; resolves once GET /ready answers 200. */
  async startApi(extraEnv: Record<string, string | undefined> = {}): Promise<ApiProcess> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const { running, tail } = await this.#spawn('src/main.ts', `api-${++this.#apis}.log`, {
      PORT: String(port),
      WORKER_IN_PROCESS: 'false',
      ...extraEnv,
    });
    await this.#untilReady(running, tail, 'API', async () => {
      const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      await response?.body?.cancel();
      return response?.status === 200;
    });
    return { ...running, port, url };
  }

  /** A worker process; resolves once it logs "jobgraph started" (it consumes from then on). */
  async startWorker(extraEnv: Record<string, string | undefined> = {}): Promise<WorkerProcess> {
    let started = false;
    const { running, tail } = await this.#spawn('src/worker.ts', `worker-${++this.#workers}.log`, extraEnv, (line) => {
      if (line.includes('jobgraph started') && parse(line)?.msg === 'jobgraph started') started = true;
    });
    await this.#untilReady(running, tail, 'worker', async () => started);
    return running;
  }

  /** SIGKILLs every process still running and waits for their exits. Idempotent. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => child.kill('SIGKILL')));
  }

  async #spawn(
    script: string,
    logName: string,
    extraEnv: Record<string, string | undefined>,
    onLine?: (line: string) => void,
  ): Promise<{ running: RunningProcess; tail: () => string }> {
    await mkdir(this.logDir, { recursive: true });
    const logPath = join(this.logDir, logName);
    const merged: Record<string, string | undefined> = { ...process.env, ...this.env, ...extraEnv };
    if (!merged.LOG_LEVEL || QUIET_LEVELS.has(merged.LOG_LEVEL)) merged.LOG_LEVEL = 'info';
    const env = Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined));

    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script)], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const log = createWriteStream(logPath, { flags: 'a' });
    log.on('error', () => {});
    let recent = '';
    let partial = '';
    const keep = (chunk: Buffer) => {
      log.write(chunk);
      recent = (recent + chunk.toString()).slice(-8_000);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      if (!onLine) return;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    child.stderr!.on('data', keep);

    const exited = new Promise<Exit>((resolve) => {
      let exit: Exit | undefined;
      const finish = () => {
        live.delete(child);
        log.end(() => resolve(exit ?? { code: null, signal: null }));
      };
      // 'close' follows 'exit' once stdout and stderr are drained: then the log is complete.
      child.once('close', (code, signal) => {
        exit ??= { code, signal };
        finish();
      });
      child.once('error', (error) => {
        // Never started (spawn failed): there will be no 'close'.
        if (child.pid === undefined) {
          keep(Buffer.from(`spawn failed: ${error.message}\n`));
          finish();
        }
      });
    });

    const running: RunningProcess = {
      pid: child.pid ?? -1,
      logPath,
      exited,
      kill: (signal) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    this.#children.add(running);
    void exited.then(() => this.#children.delete(running));
    return { running, tail: () => recent };
  }

  /** Polls `ready` until it holds; a process that exits or takes too long is a failed start. */
  async #untilReady(running: RunningProcess, tail: () => string, what: string, ready: () => Promise<boolean>): Promise<void> {
    let exit: Exit | undefined;
    void running.exited.then((value) => (exit = value));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exit) throw new Error(`${what} exited (${exit.signal ?? exit.code}) before it was ready; log ${running.logPath}:\n${tail()}`);
      if (await ready()) return;
      if (Date.now() > deadline) {
        await running.kill('SIGKILL');
        throw new Error(`${what} not ready after ${START_TIMEOUT_MS} ms; log ${running.logPath}:\n${tail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function parse(line: string): { msg?: unknown } | undefined {
  try {
    return JSON.parse(line) as { msg?: unknown };
  } catch {
    return undefined;
  }
}
