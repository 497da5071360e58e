/**
 * `npm start` without API_TOKENS makes every caller the admin, so it is closed to other machines:
 * asked to listen on every interface without tokens (and without API_OPEN=true) it refuses to
 * start, naming the settings; left to its defaults it listens on loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/ports.ts';
import { REDIS_URL, uniqueName, waitFor, withTimeout } from '../helpers/system.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** `node src/main.ts` without any token setting of this process's environment; its output is kept. */
function startApi(env: Record<string, string | undefined>): { api: ChildProcess; output: () => string } {
  const merged: Record<string, string | undefined> = { ...process.env, API_TOKENS: undefined, API_OPEN: undefined, HOST: undefined, LOG_FORMAT: 'json', ...env };
  const api = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    env: Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  api.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  api.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanups.push(async () => {
    if (api.exitCode !== null || api.signalCode !== null) return;
    api.kill('SIGTERM');
    await once(api, 'exit');
  });
  return { api, output: () => output };
}

/** Whether a TCP connection to host:port is accepted (false: refused, or no answer within 2 s). */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    const settle = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
    socket.once('timeout', () => settle(false));
  });
}

/** The local addresses listening on `port`, from /proc/net/tcp{,6} (Linux), as hex as the kernel writes them. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6']
    .filter((file) => existsSync(file))
    .flatMap((file) => readFileSync(file, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '0A' && fields[1]?.endsWith(`:${hexPort}`)) // 0A: LISTEN
    .map((fields) => fields[1]!.split(':')[0]!);
}

describe('npm start without API_TOKENS is closed to other machines', () => {
  it('refuses HOST=0.0.0.0 without API_TOKENS at once, naming HOST, API_TOKENS and API_OPEN', async () => {
    const { api, output } = startApi({ HOST: '0.0.0.0', PORT: '0', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' });
    const [code] = (await withTimeout(once(api, 'exit'), 15_000, 'the refused start to exit')) as [number | null];
    expect(code).not.toBe(0);
    expect(output()).toMatch(/HOST=0\.0\.0\.0 with API_TOKENS unset/);
    expect(output()).toMatch(/API_OPEN=true/);
  });

  it('listens on 127.0.0.1 only when HOST and API_TOKENS are unset', async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const port = await freePort();
    const { api, output } = startApi({
      DATABASE_URL: database.url,
      WORKER_IN_PROCESS: 'false',
      REDIS_URL,
      QUEUE_NAME: uniqueName('closed'),
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await waitFor(
      () => (api.exitCode !== null ? -1 : fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0)),
      (status) => status === 200 || status === -1,
      60_000,
      'the API to answer /health',
    );
    expect(api.exitCode, output()).toBeNull();

    // From outside: the machine's own non-loopback addresses get no answer.
    const outside = Object.values(networkInterfaces())
      .flat()
      .filter((address) => address !== undefined && !address.internal && address.family === 'IPv4')
      .map((address) => address!.address);
    for (const address of outside) expect(await accepts(address, port), `${address}:${port}`).toBe(false);
    // The socket itself (where /proc says): bound to 127.0.0.1 (0100007F), whatever interfaces exist.
    if (existsSync('/proc/net/tcp')) expect(listeningAddresses(port)).toEqual(['0100007F']);
  }, 90_000);
});
