import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config.ts';
import { parsePeriod } from '../lib/duration.ts';
import type { Logger } from '../lib/logger.ts';
import { Rounds } from '../lib/rounds.ts';
import type { Ledger, RetentionRules } from './ledger/index.ts';
import type { TaskCatalog } from './task-registry.ts';

/** The periods of config, with each task's own where it sets them (TaskDefinition.retention). */
export function retentionRules(config: Pick<Config, 'JOB_RETENTION' | 'JOB_RETENTION_FAILED'>, tasks: TaskCatalog): RetentionRules {
  const fallback = { completed: config.JOB_RETENTION, failed: config.JOB_RETENTION_FAILED };
  const byTask = new Map<string, RetentionRules['default']>();
  for (const task of tasks.list()) {
    if (!task.retention) continue;
    const { completed, failed } = task.retention;
    byTask.set(task.name, {
      completed: completed === undefined ? fallback.completed : parsePeriod(completed),
      failed: failed === undefined ? fallback.failed : parsePeriod(failed),
    });
  }
  return { default: fallback, byTask };
}

/** The shortest rest between two batches. */
const MIN_REST_MS = 5;

export interface PrunerOptions {
  ledger: Ledger;
  logger: Logger;
  rules: RetentionRules;
  /** Jobs per statement. */
  batch: number;
  intervalMs: number;
}

/**
 * Removes finished jobs past their retention, in batches of `batch` one statement each, resting
 * between batches as long as each took, until a batch comes back short; rolls old tallies up
 * first. Runs in worker processes; the ledger lets one process prune at a time, so the others'
 * rounds find nothing to do and end at once.
 */
export class Pruner {
  readonly #rounds: Rounds;
  #stopped = false;
  readonly #log: Logger;
  private readonly opts: PrunerOptions;

  constructor(opts: PrunerOptions) {
    this.opts = opts;
    this.#log = opts.logger.child({ component: 'pruner' });
    this.#rounds = new Rounds(() => this.prune(), opts.intervalMs, (error) =>
      this.#log.warn({ err: error }, 'retention round failed; the next one tries again'),
    );
  }

  start(): void {
    this.#stopped = false;
    this.#rounds.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true; // a round in flight ends after its current batch
    await this.#rounds.stop();
  }

  /** One round; returns how many jobs it removed. */
  async prune(): Promise<number> {
    const { ledger, rules, batch } = this.opts;
    await ledger.retention.compactTallies();
    let total = 0;
    for (;;) {
      const started = performance.now();
      const pruned = await ledger.retention.prune(rules, batch);
      total += pruned;
      if (pruned < batch || this.#stopped) break;
      // Rest as long as the batch took: pruning takes at most half of the ledger's time, and the
      // jobs running beside it keep the rest (BENCHMARKS.md §9).
      await sleep(Math.max(MIN_REST_MS, performance.now() - started));
    }
    if (total > 0) this.#log.info({ pruned: total }, 'removed finished jobs past their retention');
    return total;
  }
}
