import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/, top to bottom (README, "Layout"). A file may import its own folder and any
 * layer below its own, never one above; folders sharing a layer (adapters, events) do not import
 * each other. So the core never imports the tasks, adapters know queues and not jobs, and
 * src/lib imports nothing of the app.
 */
const LAYERS: { name: string; members: string[] }[] = [
  { name: 'clients of the API', members: ['cli', 'dashboard'] },
  { name: 'entry points', members: ['main.ts', 'worker.ts', 'ledger-host.ts', 'migrate.ts', 'seed.ts'] },
  { name: 'api', members: ['api'] },
  { name: 'tasks', members: ['tasks'] },
  { name: 'domain', members: ['domain'] },
  { name: 'jobs', members: ['jobs'] },
  { name: 'config', members: ['config.ts'] },
  { name: 'queues and bus', members: ['adapters', 'events'] },
  { name: 'db', members: ['db'] },
  { name: 'generated client', members: ['generated'] },
  { name: 'lib', members: ['lib'] },
];

const src = fileURLToPath(new URL('../../src', import.meta.url));

/** The layer member a path under src/ belongs to: its first folder, or the file at the top. */
function memberOf(pathInSrc: string): string {
  return pathInSrc.split('/')[0]!;
}

function rankOf(member: string): number {
  const rank = LAYERS.findIndex((layer) => layer.members.includes(member));
  if (rank < 0) throw new Error(`src/${member} belongs to no layer: add it to LAYERS (and README)`);
  return rank;
}

/** Why `from` may not import `to` (paths under src/), or undefined when it may. */
export function violation(from: string, to: string): string | undefined {
  const a = memberOf(from);
  const b = memberOf(to);
  if (a === b) return undefined;
  const [ra, rb] = [rankOf(a), rankOf(b)];
  if (rb > ra) return undefined;
  return rb === ra ? `${a} and ${b} share a layer and must not import each other` : `${LAYERS[ra]!.name} must not import ${LAYERS[rb]!.name}`;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
      return entry.name.endsWith('.ts') ? [path] : [];
    }),
  );
  return files.flat();
}

const IMPORT = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g;

describe('layers', () => {
  it('point down: no file in src/ imports a layer above its own', async () => {
    const found: string[] = [];
    for (const file of await sourceFiles(src)) {
      const from = relative(src, file);
      for (const [, spec] of (await readFile(file, 'utf8')).matchAll(IMPORT)) {
        const to = relative(src, resolve(dirname(file), spec!));
        const why = violation(from, to);
        if (why) found.push(`src/${from} imports src/${to}: ${why}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('the rule itself: down is allowed, up and sideways are not', () => {
    expect(violation('jobs/executor.ts', 'lib/semaphore.ts')).toBeUndefined();
    expect(violation('api/schema/jobs.ts', 'api/auth.ts')).toBeUndefined();
    expect(violation('jobs/system.ts', 'tasks/registry.ts')).toBe('jobs must not import tasks');
    expect(violation('adapters/bullmq.ts', 'jobs/errors.ts')).toBe('queues and bus must not import jobs');
    expect(violation('events/bus.ts', 'adapters/types.ts')).toMatch(/share a layer/);
    expect(violation('lib/batcher.ts', 'config.ts')).toBe('lib must not import config');
    expect(violation('adapters/backends.ts', 'config.ts')).toBe('queues and bus must not import config');
  });
});
