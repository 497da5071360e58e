import { execFile, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../helpers/ports.ts';

const BIN = '/usr/lib/postgresql/15/bin';
/** initdb and postgres refuse to run as root: as root, the cluster belongs to the postgres user. */
const AS_ROOT = process.getuid?.() === 0;

/** Clusters not yet destroyed, stopped if the test process exits without destroying them. */
const live = new Set<OwnPostgres>();
let exitHookInstalled = false;

/**
 * A PostgreSQL 15 cluster of the test's own, on a free port, so a test can stop, crash and restart
 * the ledger without touching the shared server. Tuned for speed (no fsync, no full-page writes):
 * committed data survives a stop and an immediate stop (crash recovery), not a machine crash.
 * synchronous_commit stays on: off, an immediate stop loses the last commits, and a crash test
 * would blame jobgraph for jobs PostgreSQL dropped.
 */
export class OwnPostgres {
  #running = false;
  #destroyed: Promise<void> | undefined;

  readonly port: number;
  readonly dir: string;
  private constructor(
    port: number,
    dir: string) {
    this.port = port;
    this.dir = dir;
  }

  static async start(): Promise<OwnPostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'jobgraph-pg-'));
    const cluster = new OwnPostgres(await freePort(), dir);
    live.add(cluster);
    installExitHook();
    try {
      if (AS_ROOT) {
        // mkdtemp makes the directory 0700; the postgres user must own it (and reach it).
        await chmod(dir, 0o755);
        await run('chown', ['-R', 'postgres', dir], dir);
      }
      await runPg('initdb', ['-D', cluster.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], dir);
      await cluster.startAgain();
      return cluster;
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get logFile(): string {
    return join(this.dir, 'log');
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts the stopped cluster again on the same port; resolves once it accepts connections. */
  async startAgain(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c max_connections=400',
      '-c shared_buffers=128MB',
    ].join(' ');
    await runPg('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '30', '-o', options, 'start'], this.dir);
    this.#running = true;
    await this.#ready(30_000);
  }

  /**
   * `fast` disconnects clients and shuts down cleanly; `immediate` is a crash (recovery on the
   * next start). Stopping a cluster that is not running does nothing.
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (!this.#running) return;
    try {
      await runPg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop'], this.dir);
    } catch (error) {
      // Already gone (killed from outside): what the caller wanted.
      if (await this.#alive()) throw error;
    }
    this.#running = false;
  }

  async restart(): Promise<void> {
    await this.stop('fast');
    await this.startAgain();
  }

  /** A new empty database in this cluster; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const admin = new pg.Client({ connectionString: this.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    } finally {
      await admin.end();
    }
    const url = new URL(this.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  /** Crashes the cluster if it runs and removes its files. Idempotent; never throws. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      await this.stop('immediate').catch(() => {});
      live.delete(this);
      await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    })();
    return this.#destroyed;
  }

  /** destroy(), synchronously: for the process exit hook, where nothing can be awaited. */
  destroySync(): void {
    if (this.#running) spawnSync(...pgCommand('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']), { cwd: this.dir, stdio: 'ignore' });
    this.#running = false;
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** pg_ctl -w already waits, but pg_isready over TCP is what clients see. */
  async #ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await run(`${BIN}/pg_isready`, ['-h', '127.0.0.1', '-p', String(this.port), '-t', '2'], this.dir);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`postgres on port ${this.port} not ready after ${timeoutMs} ms (log: ${this.logFile})`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async #alive(): Promise<boolean> {
    try {
      await runPg('pg_ctl', ['-D', this.dataDir, 'status'], this.dir);
      return true;
    } catch {
      return false;
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const cluster of live) cluster.destroySync();
  });
}

/** A PostgreSQL binary, through runuser when this process is root. */
function pgCommand(name: string, args: string[]): [string, string[]] {
  const file = `${BIN}/${name}`;
  return AS_ROOT ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

function runPg(name: string, args: string[], cwd: string): Promise<string> {
  return run(...pgCommand(name, args), cwd);
}

/** Runs a command (cwd: a directory the postgres user can enter); rejects with its output. */
function run(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${[file, ...args].join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}
