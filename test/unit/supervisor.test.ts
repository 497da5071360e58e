import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.ts';
import { SupervisedProcess } from '../../src/lib/supervisor.ts';
import { waitFor } from '../helpers/wait.ts';

const childModule = fileURLToPath(new URL('../fixtures/supervised-child.ts', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A supervised fixture child, and the file where its first run writes its pid. */
async function supervised(env: Record<string, string> = {}): Promise<{ child: SupervisedProcess; marker: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'jobgraph-supervisor-'));
  const marker = join(dir, 'first');
  const child = new SupervisedProcess({ name: 'worker', module: childModule, env: { ...process.env, MARKER: marker, ...env }, logger: createLogger('silent'), restart: true });
  cleanups.push(() => rm(dir, { recursive: true, force: true }), () => child.stop(5_000));
  return { child, marker };
}

describe('SupervisedProcess', () => {
  it('starts again a child killed before it said ready (it may be running jobs), and start() waits for that one', async () => {
    const { child, marker } = await supervised();
    const ready = child.start();
    const first = await waitFor(async () => (existsSync(marker) ? Number(readFileSync(marker, 'utf8')) : 0), (pid) => pid > 0, 20_000, 'the first child to run');
    process.kill(first, 'SIGKILL');
    await expect(ready).resolves.toMatchObject({ type: 'ready' });
  }, 30_000);

  it('ends the start with the reason of a child that fails to start', async () => {
    const { child } = await supervised({ FAIL: '1' });
    await expect(child.start()).rejects.toThrow('cannot start: told to fail');
  }, 30_000);
});
