// The benchmarks' tasks: a no-op, and a job that reports progress N times with the send time in
// each message. One registry object per process (the API schema is built once per process).
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineTask, type TaskDefinition } from '../src/jobs/task.ts';
import { defineLimit } from '../src/jobs/limits/definition.ts';
import { createTaskRegistry, type TaskRegistry } from '../src/tasks/registry.ts';

/** Opens and closes; a closed gate holds bench.noop handlers (so a throughput run can enqueue first). */
class Gate {
  #open = true;
  #waiters: (() => void)[] = [];
  close(): void {
    this.#open = false;
  }
  open(): void {
    this.#open = true;
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
  wait(): Promise<void> | undefined {
    if (this.#open) return undefined;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export const noopGate = new Gate();

/** Named gates a bench.progress job waits at before it starts reporting (opened by `go <name>` on a worker's stdin). */
const opened = new Set<string>();
const waiting = new Map<string, (() => void)[]>();
export function openNamedGate(name: string): void {
  opened.add(name);
  for (const resolve of waiting.get(name) ?? []) resolve();
  waiting.delete(name);
}
function namedGate(name: string, timeoutMs: number): Promise<void> {
  if (opened.has(name)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs); // never hold a worker forever
    const list = waiting.get(name) ?? [];
    list.push(() => {
      clearTimeout(timer);
      resolve();
    });
    waiting.set(name, list);
  });
}

export const noop = defineTask({
  name: 'bench.noop',
  phase: 'TEST_EXECUTION',
  description: 'Does nothing (benchmarks).',
  input: z.object({ tag: z.string().max(100).optional() }),
  async handler() {
    const held = noopGate.wait();
    if (held) await held;
    return null;
  },
});

type DirectProgress = (jobId: string, percent: number, message: string) => Promise<unknown>;
let directProgress: DirectProgress | undefined;
/** How bench.progress with `everyEvent` writes: the worker's ledger write, which also publishes. */
export function setDirectProgress(write: DirectProgress): void {
  directProgress = write;
}

export const progress = defineTask({
  name: 'bench.progress',
  phase: 'TEST_EXECUTION',
  description: 'Reports progress `count` times, each message carrying its send time (benchmarks).',
  input: z.object({
    count: z.number().int().min(1).max(100_000).default(1_000),
    pauseMs: z.number().int().min(0).max(10_000).default(0),
    /** Waits until `go <gate>` reaches the worker's stdin (at most gateTimeoutMs) before the first event. */
    gate: z.string().max(100).optional(),
    gateTimeoutMs: z.number().int().min(0).max(600_000).default(60_000),
    /**
     * Writes every event to the ledger (and the bus) at once, past ctx.progress's coalescing (at
     * most one write per 200 ms per job), where the process installed a writer (bench/worker.ts).
     * The fan-out benchmark needs it: it measures delivery of 10 and 50 events/s, not the coalescing wait.
     */
    everyEvent: z.boolean().default(false),
  }),
  async handler({ count, pauseMs, gate, gateTimeoutMs, everyEvent }, ctx) {
    if (gate) await namedGate(gate, gateTimeoutMs);
    // How long each ctx.progress() takes (ledger write + publish), for the analysis.
    const callMs: number[] = [];
    for (let i = 1; i <= count; i++) {
      const sentAt = performance.timeOrigin + performance.now();
      const percent = (i / count) * 100;
      const message = `t=${sentAt.toFixed(3)} i=${i}`;
      if (everyEvent && directProgress) await directProgress(ctx.jobId, percent, message);
      else await ctx.progress(percent, message);
      callMs.push(performance.timeOrigin + performance.now() - sentAt);
      if (pauseMs > 0) await sleep(pauseMs, undefined, { signal: ctx.signal });
    }
    callMs.sort((a, b) => a - b);
    const at = (p: number) => Math.round(callMs[Math.min(callMs.length - 1, Math.ceil((p / 100) * callMs.length) - 1)]! * 1000) / 1000;
    return { count, progressCallMs: { p50: at(50), p90: at(90), p99: at(99), max: at(100) } };
  },
});

const tagInput = z.object({ tag: z.string().max(100).optional() });

/** A no-op task with flow control of its own (what the flow bench measures the cost of). */
function flowNoop(name: string, description: string, flow: Pick<TaskDefinition<z.infer<typeof tagInput>>, 'limits' | 'concurrencyKey'>) {
  return defineTask({ name, phase: 'TEST_EXECUTION', description: `Does nothing, ${description} (benchmarks).`, input: tagInput, handler: async () => null, ...flow });
}

/** Takes from the shared limit `bench` (one request, a slot held while it runs) before it runs. */
export const limitedNoop = flowNoop('bench.limitedNoop', 'after taking from the limit `bench`', { limits: ['bench'] });
/** Holds a slot of `benchSlots` (a limit with a concurrency bound only) while it runs. */
export const slottedNoop = flowNoop('bench.slottedNoop', 'holding a slot of the limit `benchSlots`', { limits: ['benchSlots'] });
/** A concurrency key (its tag, one at a time): the claim's admission, without contention when tags differ. */
export const keyedNoop = flowNoop('bench.keyedNoop', 'under a concurrency key', { concurrencyKey: { key: (input) => input.tag ?? '', limit: 1 } });

export const benchTasks = [noop, progress, limitedNoop, slottedNoop, keyedNoop];

/**
 * The limits the bench tasks name, bounding nothing a run reaches, so they measure the take itself:
 * `bench` with a requests window (each take counts the uses in the window), `benchSlots` with a
 * concurrency bound only.
 */
export const benchLimits = [
  defineLimit({ name: 'bench', requests: { count: 1_000_000, per: '1m' }, concurrency: 100_000 }),
  defineLimit({ name: 'benchSlots', concurrency: 100_000 }),
];

let registry: TaskRegistry | undefined;
/** The app's tasks plus the bench tasks: one object per process. */
export function benchRegistry(): TaskRegistry {
  registry ??= createTaskRegistry(benchTasks);
  return registry;
}

/** Reads the send time a bench.progress message carries. */
export function sentAtOf(message: string | null | undefined): number | undefined {
  const match = /^t=([\d.]+) /.exec(message ?? '');
  return match ? Number(match[1]) : undefined;
}
