import type { Logger } from '../lib/logger.ts';
import { Rounds } from '../lib/rounds.ts';
import type { Ledger } from './ledger/index.ts';

/**
 * Finds RUNNING jobs whose worker stopped heartbeating and settles them: queued again with the
 * attempt counted, failed when no attempts are left, cancelled when they were being cancelled.
 * Whatever the backend: BullMQ's stalled check or pg-boss's heartbeat may redeliver first, and
 * the claim makes that harmless.
 */
export interface ReaperOptions {
  ledger: Ledger;
  logger: Logger;
  staleAfterMs: number;
  intervalMs: number;
  /** Whether this process is running the job: its own jobs are alive whatever their heartbeat says. */
  runsHere?: (jobId: string) => boolean;
}

export class Reaper {
  readonly #rounds: Rounds;
  /** Until then no job counts as lost: the ledger was just unreachable, so nobody could heartbeat. */
  #graceUntil = 0;
  readonly #log: Logger;

  private readonly opts: ReaperOptions;

  constructor(opts: ReaperOptions) {
    this.opts = opts;
    this.#log = opts.logger.child({ component: 'reaper' });
    this.#rounds = new Rounds(() => this.reap(opts.staleAfterMs), opts.intervalMs, (error) => {
      this.#graceUntil = Date.now() + opts.staleAfterMs;
      this.#log.error({ err: error }, 'reaper round failed');
    });
  }

  start(): void {
    this.#rounds.start();
  }

  stop(): Promise<void> {
    return this.#rounds.stop();
  }

  /** Settles jobs whose heartbeat is older than `staleMs`; 0 settles every running job (sole owner at startup). */
  async reap(staleMs: number): Promise<number> {
    const { ledger } = this.opts;
    let settled = 0;
    if (staleMs > 0 && Date.now() < this.#graceUntil) return 0;
    for (const job of await ledger.liveness.staleJobs(staleMs)) {
      // A busy event loop can delay this process's own heartbeats; they are not lost.
      if (this.opts.runsHere?.(job.id)) continue;
      const change = await ledger.liveness.recoverLost(job);
      if (!change) continue; // its worker came back, or another reaper got there first
      settled++;
      // Published, and sent to a queue if requeued, by the ledger's after-write step.
      this.#log.warn({ jobId: job.id, worker: job.lockedBy, status: change.job.status }, 'recovered a job from a lost worker');
      // Its concurrency key no longer counts it: the jobs waiting their turn go now, not at their bound.
      if (job.concurrencyKey) {
        await ledger.transitions.wakeKey(job.type, job.concurrencyKey, job.concurrencyLimit ?? 1).catch((error: unknown) => {
          this.#log.warn({ err: error, jobId: job.id }, 'could not wake the jobs waiting on its concurrency key; they are due again within the stale bound');
        });
      }
    }
    return settled;
  }
}
