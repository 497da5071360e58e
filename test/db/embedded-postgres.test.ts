/**
 * The embedded ledger's server (src/db/embedded-postgres.ts) as its comments describe it: a new
 * folder is a copy of the migrated template with a password of its own, the server lets in only
 * who has that password and only over 127.0.0.1, one folder has one server (taken over, never
 * doubled, also after the process that started it was SIGKILLed), a folder cut short is made
 * again, and `running()` / `stop()` say and do what they say. Each case has folders of its own,
 * and leaves no server behind: afterEach fails if one of its folders still has a postgres.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultTemplateCache,
  embeddedPaths,
  EmbeddedLedgerNotRunningError,
  findEmbeddedPostgres,
  startEmbeddedPostgres,
  type EmbeddedServer,
} from '../../src/db/embedded-postgres.ts';
import type { Logger } from '../../src/lib/logger.ts';
import { waitFor, withTimeout } from '../helpers/system.ts';
import { postmasterPid, postmastersOf, runs } from '../helpers/embedded.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const migrationDirs = (await readdir(join(root, 'prisma', 'migrations'), { withFileTypes: true })).filter((entry) => entry.isDirectory()).length;

// --- folders of the case, and what is left of them ---------------------------------------------

const folders: string[] = [];
const servers: EmbeddedServer[] = [];
const children: ChildProcess[] = [];

/**
 * A new EMBEDDED_DIR, removed after the case with its cluster: <mkdtemp>/jg (as root, a folder the
 * postgres user cannot reach: its cluster goes to /var/lib/jobgraph), or the mkdtemp folder itself.
 */
async function newFolder(layout: 'inside' | 'itself' = 'inside'): Promise<string> {
  const made = await mkdtemp(join(tmpdir(), 'jobgraph-embedded-pg-'));
  const dir = layout === 'itself' ? made : join(made, 'jg');
  folders.push(dir);
  return dir;
}

async function start(dir: string, logger?: Logger): Promise<EmbeddedServer> {
  const server = await startEmbeddedPostgres({ dir, ...(logger ? { logger } : {}) });
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  for (const server of servers.splice(0)) await server.stop().catch(() => {});
  const left: string[] = [];
  for (const dir of folders.splice(0)) {
    const { dataDir } = await embeddedPaths(dir);
    const pid = await postmasterPid(dataDir);
    if (pid !== undefined && runs(pid)) {
      left.push(`${dataDir}: postgres ${pid}`);
      process.kill(pid, 'SIGKILL');
      await waitFor(async () => runs(pid), (up) => !up, 10_000, `postgres ${pid} to end`).catch(() => {});
    }
    await rm(dir.endsWith('/jg') ? dirname(dir) : dir, { recursive: true, force: true });
    // As root the cluster of a folder the postgres user cannot reach is kept in /var/lib/jobgraph.
    if (!dataDir.startsWith(dir)) await rm(dirname(dataDir), { recursive: true, force: true });
  }
  expect(left, 'servers left running by the case').toEqual([]);
});

// --- small readers -------------------------------------------------------------------------------




/** The first row of `sql`'s answer. */
async function one<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T> {
  const [row] = await query<T>(url, sql);
  return row!;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** What the server answers a connection with `password`: 'ok', or its SQLSTATE and message. */
async function login(port: number, password: string): Promise<{ code?: string; message: string; severity?: string }> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.end();
    return { message: 'ok' };
  } catch (error) {
    await client.end().catch(() => {});
    const { code, message, severity } = error as pg.DatabaseError;
    return { code, message, severity };
  }
}

/**
 * The server's first answer to a startup message that carries no password: the authentication it
 * asks for (0 = let in without one, 10 = SASL, i.e. SCRAM), read off the wire, no client library
 * between.
 */
async function authenticationAsked(port: number): Promise<number> {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from('user\0postgres\0database\0postgres\0\0')]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    socket.write(Buffer.concat([length, body]));
    let received = Buffer.alloc(0);
    while (received.length < 9) {
      const [chunk] = (await withTimeout(once(socket, 'data'), 5_000, 'the server to answer')) as [Buffer];
      received = Buffer.concat([received, chunk]);
    }
    expect(String.fromCharCode(received[0]!)).toBe('R'); // an Authentication message, not an ErrorResponse
    return received.readInt32BE(5);
  } finally {
    socket.destroy();
  }
}

/** pg_control's first 8 bytes: the system identifier initdb gave the cluster (a copy keeps it). */
async function systemIdentifier(dataDir: string): Promise<bigint> {
  return (await readFile(join(dataDir, 'global', 'pg_control'))).readBigUInt64LE(0);
}

async function template(): Promise<string> {
  const entries = (await readdir(defaultTemplateCache)).filter((name) => /^pg-/.test(name) && !name.includes('.building-'));
  expect(entries.length).toBeGreaterThan(0);
  const stats = await Promise.all(entries.map(async (name) => ({ name, at: (await stat(join(defaultTemplateCache, name))).mtimeMs })));
  return join(defaultTemplateCache, stats.sort((a, b) => b.at - a.at)[0]!.name);
}

/** A logger that keeps its messages. */
function recordingLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const keep = (...args: unknown[]) => {
    messages.push(String(args.find((arg) => typeof arg === 'string') ?? ''));
  };
  const logger = { info: keep, warn: keep, error: keep, debug: keep, fatal: keep, trace: keep, child: () => logger } as unknown as Logger;
  return { logger, messages };
}

/**
 * A process that starts the folder's server and is then SIGKILLed, as `npm start` killed with
 * kill -9: resolves with the server's pid and port once the process is dead.
 */
async function startInChildThenKill(dir: string): Promise<{ pid: number; port: number }> {
  const moduleUrl = new URL('../../src/db/embedded-postgres.ts', import.meta.url).href;
  const script = `
    const { startEmbeddedPostgres } = await import(${JSON.stringify(moduleUrl)});
    const server = await startEmbeddedPostgres({ dir: process.argv[1] });
    const { readFile } = await import('node:fs/promises');
    const pid = Number((await readFile(server.dataDir + '/postmaster.pid', 'utf8')).split('\\n')[0]);
    process.stdout.write(JSON.stringify({ pid, port: server.port }) + '\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let output = '';
  const line = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('\n')) resolve(output.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`the child exited with ${code}: ${output}`)));
  });
  const started = JSON.parse(await withTimeout(line, 30_000, 'the child to start the server')) as { pid: number; port: number };
  child.kill('SIGKILL');
  await once(child, 'exit');
  return started;
}

// --- the cases -----------------------------------------------------------------------------------

describe('embedded PostgreSQL: a new folder', () => {
  it('is a copy of the migrated template, with a password of its own', async () => {
    const [a, b] = [await newFolder(), await newFolder()];
    const [first, second] = [await start(a), await start(b)];
    const tpl = await template();

    // Migrated: every migration of prisma/migrations, applied in the template, none here.
    const { n } = await one<{ n: number }>(first.url, 'SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL');
    expect(n).toBe(migrationDirs);
    // A copy of the template's cluster (initdb would have given it an identifier of its own).
    expect(await systemIdentifier(first.dataDir)).toBe(await systemIdentifier(join(tpl, 'pgdata')));

    const passwordOf = async (dir: string) => (await readFile(join(dir, 'password'), 'utf8')).trim();
    const [own, other, templates] = [await passwordOf(a), await passwordOf(b), await passwordOf(tpl)];
    expect(own).toMatch(/^[0-9a-f]{48}$/);
    expect(own).not.toBe(templates);
    expect(own).not.toBe(other);
    expect(first.url).toBe(`postgres://postgres:${own}@127.0.0.1:${first.port}/postgres`);
    expect(second.url).toContain(other);
    // The template's password opened the copy once, to set the folder's: it opens it no more.
    expect(await login(first.port, templates)).toMatchObject({ code: '28P01' });
    expect((await login(first.port, own)).message).toBe('ok');
  });

  it.each(['inside', 'itself'] as const)('keeps its password readable by its owner alone (0600) and its cluster 0700 (EMBEDDED_DIR %s a mkdtemp folder)', async (layout) => {
    const dir = await newFolder(layout);
    const server = await start(dir);
    const paths = await embeddedPaths(dir);
    // A folder of its own (0700, as mkdtemp makes it) keeps its cluster; as root the postgres user
    // is let through it (search bit only: it cannot list it).
    if (layout === 'itself') {
      expect(server.dataDir).toBe(join(dir, 'pgdata'));
      if (process.getuid?.() === 0) expect((await stat(dir)).mode & 0o777).toBe(0o701);
    }
    expect((await stat(paths.passwordFile)).mode & 0o777).toBe(0o600);
    expect((await stat(server.dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(paths.logFile)).mode & 0o077).toBe(0);
    // The password written aside while the folder was made is gone (renamed into place).
    expect(await readdir(dir)).not.toContain('password.new');
    expect(Number((await readFile(paths.portFile, 'utf8')).trim())).toBe(server.port);
  });
});

describe('embedded PostgreSQL: who gets in', () => {
  it('refuses a connection without the password, and one with a wrong password, itself', async () => {
    const server = await start(await newFolder());
    // The server asks for SCRAM before anything: it lets in nobody without a password.
    expect(await authenticationAsked(server.port)).toBe(10);
    // (pg's client gives up by itself when the server asks for a password it has not got: the
    // check above is the server's answer to no password.)
    expect(await login(server.port, 'not-the-password')).toEqual({
      code: '28P01',
      severity: 'FATAL',
      message: 'password authentication failed for user "postgres"',
    });
    // What the server loaded: scram-sha-256 on every line, no trust.
    const rules = await query<{ type: string; address: string | null; auth_method: string; error: string | null }>(server.url, 'SELECT type, address, auth_method, error FROM pg_hba_file_rules');
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule).toMatchObject({ type: 'host', auth_method: 'scram-sha-256', error: null });
    const hba = await readFile(join(server.dataDir, 'pg_hba.conf'), 'utf8');
    expect(hba).not.toMatch(/^\s*[^#\s].*\btrust\b/m);
    expect(hba).not.toMatch(/^\s*local\b/m);
  });

  it('listens on 127.0.0.1 only: not on the machine\'s other addresses, and no Unix socket', async () => {
    const server = await start(await newFolder());
    const { listen_addresses } = await one<{ listen_addresses: string }>(server.url, 'SHOW listen_addresses');
    const { unix_socket_directories } = await one<{ unix_socket_directories: string }>(server.url, 'SHOW unix_socket_directories');
    expect(listen_addresses).toBe('127.0.0.1');
    expect(unix_socket_directories).toBe('');
    for (const dir of ['/tmp', '/var/run/postgresql', server.dataDir]) {
      expect(await stat(join(dir, `.s.PGSQL.${server.port}`)).then(() => 'socket', () => 'none'), dir).toBe('none');
    }
    const outside = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
    for (const address of outside) {
      const socket = connect(server.port, address);
      const result = await withTimeout(
        new Promise<string>((resolve) => {
          socket.once('connect', () => resolve('connected'));
          socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
        }),
        5_000,
        `a connection to ${address}`,
      );
      socket.destroy();
      expect(result, `${address}:${server.port}`).toBe('ECONNREFUSED');
    }
  });
});

describe('embedded PostgreSQL: one server a folder', () => {
  it('a second start while the first runs takes it over: same server, same port, never a second one', async () => {
    const dir = await newFolder();
    const first = await start(dir);
    const pid = await postmasterPid(first.dataDir);
    const { logger, messages } = recordingLogger();
    const second = await start(dir, logger);
    expect(await postmasterPid(second.dataDir)).toBe(pid);
    expect(second.port).toBe(first.port);
    expect(second.url).toBe(first.url);
    expect(messages).toContain('embedded PostgreSQL already running in this folder (left by an earlier start): taking it over');
    expect(await postmastersOf(first.dataDir)).toEqual([pid]);
    expect(await second.running()).toBe(true);
    // findEmbeddedPostgres (npm run worker) finds that same server.
    expect(await findEmbeddedPostgres(dir)).toBe(first.url);
    // The one that took it over can stop it.
    await second.stop();
    expect(runs(pid!)).toBe(false);
    expect(await first.running()).toBe(false);
  });

  it('takes over the server left by a process that was SIGKILLed', async () => {
    const dir = await newFolder();
    const left = await startInChildThenKill(dir);
    expect(runs(left.pid)).toBe(true); // detached: it outlives the process that started it
    const { logger, messages } = recordingLogger();
    const started = Date.now();
    const server = await start(dir, logger);
    const tookMs = Date.now() - started;
    expect(await postmasterPid(server.dataDir)).toBe(left.pid);
    expect(server.port).toBe(left.port);
    expect(messages).toContain('embedded PostgreSQL already running in this folder (left by an earlier start): taking it over');
    expect(await postmastersOf(server.dataDir)).toEqual([left.pid]);
    expect(await server.running()).toBe(true);
    expect(tookMs).toBeLessThan(5_000);
    await server.stop();
    expect(runs(left.pid)).toBe(false);
  });

  it('a folder cut short while being made (cluster there, no password file) is made again, and starts', async () => {
    const dir = await newFolder();
    const first = await start(dir);
    const oldUrl = first.url;
    const oldPid = await postmasterPid(first.dataDir);
    // Cut short after its server started, before the password file was renamed into place.
    await rm(join(dir, 'password'));
    await writeFile(join(dir, 'password.new'), 'half-written', { mode: 0o600 });
    const again = await start(dir);
    expect(runs(oldPid!)).toBe(false); // the server of the half-made folder was stopped
    expect(await postmasterPid(again.dataDir)).not.toBe(oldPid);
    expect(again.url).not.toBe(oldUrl);
    const password = (await readFile(join(dir, 'password'), 'utf8')).trim();
    expect(again.url).toContain(password);
    expect((await stat(join(dir, 'password'))).mode & 0o777).toBe(0o600);
    const { n } = await one<{ n: number }>(again.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(n).toBe(migrationDirs);
    expect(await login(again.port, oldUrl.split(':')[2]!.split('@')[0]!)).toMatchObject({ code: '28P01' });

    // Cut short with no server: the cluster alone.
    await again.stop();
    await rm(join(dir, 'password'));
    const third = await start(dir);
    expect(await third.running()).toBe(true);
    const { m } = await one<{ m: number }>(third.url, 'SELECT count(*)::int AS m FROM _prisma_migrations');
    expect(m).toBe(migrationDirs);
  });
});

describe('embedded PostgreSQL: running() and stop()', () => {
  it('running() turns false when the server is killed, and the next start starts it again', async () => {
    const dir = await newFolder();
    const server = await start(dir);
    expect(await server.running()).toBe(true);
    const pid = (await postmasterPid(server.dataDir))!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => server.running(), (up) => !up, 2_000, 'running() to turn false');
    const again = await start(dir);
    expect(again.port).toBe(server.port); // the port of last time, free again
    expect(await postmasterPid(again.dataDir)).not.toBe(pid);
    expect(await again.running()).toBe(true);

    // A server taken over (no child of this process) too, though init has not reaped it yet.
    const takenOver = await start(dir);
    const pid2 = (await postmasterPid(takenOver.dataDir))!;
    process.kill(pid2, 'SIGKILL');
    await waitFor(() => takenOver.running(), (up) => !up, 2_000, 'running() of the taken-over server to turn false');
    const third = await start(dir);
    expect(await third.running()).toBe(true);
  });

  it('a server killed while a session runs a query starts again (its leftover processes ended)', async () => {
    const dir = await newFolder();
    const server = await start(dir);
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => {});
    await client.connect();
    const busy = client.query('SELECT count(*) FROM generate_series(1, 2000000000)').catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pid = (await postmasterPid(server.dataDir))!;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => server.running(), (up) => !up, 2_000, 'running() to turn false');
    const started = Date.now();
    const again = await start(dir);
    expect(await again.running()).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await busy).toBeInstanceOf(Error);
    await client.end().catch(() => {});
    const { n } = await one<{ n: number }>(again.url, 'SELECT count(*)::int AS n FROM _prisma_migrations');
    expect(n).toBe(migrationDirs);
  });

  it('stop() is idempotent, keeps what was committed, and the port is taken again next time', async () => {
    const dir = await newFolder();
    const server = await start(dir);
    await query(server.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    const pid = (await postmasterPid(server.dataDir))!;
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    expect(runs(pid)).toBe(false);
    expect(await server.running()).toBe(false);
    expect(await postmasterPid(server.dataDir)).toBeUndefined(); // a clean shutdown removes it
    const again = await start(dir);
    expect(again.port).toBe(server.port);
    expect(again.url).toBe(server.url);
    expect(await query(again.url, 'SELECT v FROM kept')).toEqual([{ v: 42 }]);
  });

  it('a port taken since last time: another one, remembered', async () => {
    const dir = await newFolder();
    const server = await start(dir);
    const { port } = server;
    await server.stop();
    const { createServer } = await import('node:net');
    const squatter = createServer().listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const again = await start(dir);
      expect(again.port).not.toBe(port);
      expect(Number((await readFile(join(dir, 'port'), 'utf8')).trim())).toBe(again.port);
      expect(await again.running()).toBe(true);
    } finally {
      squatter.close();
    }
  });
});

describe('findEmbeddedPostgres', () => {
  it('rejects with EmbeddedLedgerNotRunningError on a folder with no server', async () => {
    const empty = await newFolder();
    await expect(findEmbeddedPostgres(empty)).rejects.toBeInstanceOf(EmbeddedLedgerNotRunningError);
    // A folder made, then stopped.
    const dir = await newFolder();
    const server = await start(dir);
    expect(await findEmbeddedPostgres(dir)).toBe(server.url);
    await server.stop();
    const error = await findEmbeddedPostgres(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedLedgerNotRunningError);
    expect(error).toMatchObject({ code: 'EMBEDDED_LEDGER_NOT_RUNNING', message: expect.stringContaining('npm start') });
    // And a killed one (postmaster.pid left behind, its process gone).
    const third = await newFolder();
    const killed = await start(third);
    process.kill((await postmasterPid(killed.dataDir))!, 'SIGKILL');
    await waitFor(() => killed.running(), (up) => !up, 2_000, 'the server to end');
    await expect(withTimeout(findEmbeddedPostgres(third), 5_000, 'findEmbeddedPostgres')).rejects.toBeInstanceOf(EmbeddedLedgerNotRunningError);
  });
});
