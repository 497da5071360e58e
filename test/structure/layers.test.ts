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
  { name: 'entry points', members: ['main.ts', 'worker.ts', 'migrate.ts', 'seed.ts'] },
  { name: 'api', members: ['api'] },
  { name: 'tasks', members: ['tasks'] },
  // The domain knows nothing of queues and jobs, and the job system nothing of the domain.
  { name: 'domain and jobs', members: ['domain', 'jobs'] },
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
      return /\.tsx?$/.test(entry.name) ? [path] : [];
    }),
  );
  return files.flat();
}

const IMPORT = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g;
/** Imports that load a module when this one loads: not `import type`, not `import()`. */
const VALUE_IMPORT = /^import\s+(?!type\s)[^;]*?from\s*'(\.{1,2}\/[^']+)'|^export\s+(?!type\s)[^;]*?from\s*'(\.{1,2}\/[^']+)'/gm;

/** The cycles among modules that import each other's values (each found once, from its first module). */
function cyclesIn(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

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

  it('no module imports, through any chain, a module that imports it back (value imports: a cycle makes load order matter)', async () => {
    const graph = new Map<string, string[]>();
    for (const file of await sourceFiles(src)) {
      const from = relative(src, file);
      const text = await readFile(file, 'utf8');
      graph.set(from, [...text.matchAll(VALUE_IMPORT)].map((m) => relative(src, resolve(dirname(file), (m[1] ?? m[2])!))));
    }
    expect(cyclesIn(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('the cycle check finds a cycle', () => {
    const graph = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    expect(cyclesIn(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('the rule itself: down is allowed, up and sideways are not', () => {
    expect(violation('jobs/executor.ts', 'lib/semaphore.ts')).toBeUndefined();
    expect(violation('api/schema/jobs.ts', 'api/auth.ts')).toBeUndefined();
    expect(violation('jobs/system.ts', 'tasks/registry.ts')).toBe('domain and jobs must not import tasks');
    expect(violation('domain/profiling.ts', 'jobs/errors.ts')).toMatch(/share a layer/);
    expect(violation('adapters/bullmq.ts', 'jobs/errors.ts')).toBe('queues and bus must not import domain and jobs');
    expect(violation('events/bus.ts', 'adapters/types.ts')).toMatch(/share a layer/);
    expect(violation('lib/batcher.ts', 'config.ts')).toBe('lib must not import config');
    expect(violation('adapters/backends.ts', 'config.ts')).toBe('queues and bus must not import config');
  });
});
