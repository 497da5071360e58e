/**
 * Fires schedules: every process that runs a job system runs one, and however many run, each tick
 * makes exactly one job. A round reads the due schedules, enqueues each one's tick with the
 * idempotency key `schedule:<id>:<tick>` (a second process's enqueue of the same tick is answered
 * with the first one's job), and only then moves the schedule to its next tick, by a
 * compare-and-set on the tick it fired. A process killed between the two leaves the schedule due,
 * and the next round, here or anywhere, enqueues the same key and moves it on: no tick is lost and
 * none is doubled.
 *
 * Missed ticks (nothing ran when they were due): a tick later than the grace (a minute by default)
 * is missed. `catchUp: 'once'` makes one job for the latest tick due and skips the rest;
 * `catchUp: 'skip'` makes none for a missed tick. Either way the schedule goes on from the first
 * tick after now.
 *
 * The clock is the scheduler's own (`now`), so a test can move it through a day's ticks and a
 * time zone's clock changes without waiting; nothing else in the job system reads it.
 */
import { CodedError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ScheduleLedger, ScheduleRow } from '../ledger/schedules.ts';
import { latestTick, nextTick } from './definition.ts';

/** How an enqueue made by a schedule is asked for (JobService.enqueue's options). */
export interface TickEnqueue {
  idempotencyKey: string;
  scheduleId: string;
  createdBy: string;
  tags: string[];
}

export interface SchedulerOptions {
  ledger: ScheduleLedger;
  logger: Logger;
  enqueue(task: string, input: unknown, opts: TickEnqueue): Promise<{ job: { id: string }; deduplicated: boolean }>;
  /** How often a round looks for due schedules at least (it also wakes at the soonest tick). */
  pollMs: number;
  /** A tick fired later than this after its time was missed. */
  graceMs: number;
  /** The scheduler's clock (ms since the epoch); Date.now by default. */
  now?: () => number;
  /** Called after a tick's job went in and before the schedule moves on (a test kills its process here). */
  afterEnqueue?: (schedule: ScheduleRow, tick: Date) => void | Promise<void>;
}

/** The codes of an enqueue that will never succeed for this schedule as it is: its tick is passed. */
const HOPELESS = new Set(['INVALID_INPUT', 'UNKNOWN_TASK']);
const ROUND_BATCH = 100;
/** The shortest pause between rounds, so a schedule that cannot be moved does not spin. */
const MIN_WAIT_MS = 50;

/** The idempotency key of a schedule's tick: one job per schedule and tick. */
export function tickKey(scheduleId: string, tick: Date): string {
  return `schedule:${scheduleId}:${tick.toISOString()}`;
}

export class Scheduler {
  readonly #opts: SchedulerOptions;
  readonly #now: () => number;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;

  constructor(opts: SchedulerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  start(): void {
    this.#stopped = false;
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Looks again now (a schedule was created or resumed here). */
  wake(): void {
    this.#wake?.();
  }

  /**
   * One round: fires every due schedule, in batches, until none is due. Returns the jobs it made
   * (a deduplicated tick counts too: its job exists).
   */
  async fire(): Promise<{ scheduleId: string; tick: Date; jobId: string; deduplicated: boolean }[]> {
    const fired: { scheduleId: string; tick: Date; jobId: string; deduplicated: boolean }[] = [];
    for (;;) {
      const now = new Date(this.#now());
      const due = await this.#opts.ledger.due(now, ROUND_BATCH);
      for (const schedule of due) {
        const done = await this.#fireOne(schedule, now);
        if (done) fired.push(done);
      }
      if (due.length < ROUND_BATCH) return fired;
    }
  }

  async #fireOne(schedule: ScheduleRow, now: Date) {
    const { logger, ledger } = this.#opts;
    const from = schedule.nextRunAt!;
    const latest = latestTick(schedule.cron, schedule.timezone, now);
    const tick = latest && latest > from ? latest : from;
    const late = now.getTime() - tick.getTime() > this.#opts.graceMs;
    const missed = tick > from || late;
    let fired: { scheduleId: string; tick: Date; jobId: string; deduplicated: boolean } | undefined;
    if (!late || schedule.catchUp === 'once') {
      try {
        const { job, deduplicated } = await this.#opts.enqueue(schedule.task, schedule.input, {
          idempotencyKey: tickKey(schedule.id, tick),
          scheduleId: schedule.id,
          createdBy: schedule.createdBy ?? `schedule:${schedule.name}`,
          tags: [`schedule:${schedule.name}`],
        });
        fired = { scheduleId: schedule.id, tick, jobId: job.id, deduplicated };
        await this.#opts.afterEnqueue?.(schedule, tick);
      } catch (error) {
        // A tick that can never be enqueued (its task is gone, its input no longer fits) is passed
        // with a log; any other failure leaves the schedule due, for the next round to try again.
        if (!(error instanceof CodedError && HOPELESS.has(error.code))) throw error;
        logger.error({ err: error, schedule: schedule.name, tick }, 'schedule: its tick cannot be enqueued; passed');
      }
    }
    if (missed) {
      logger.warn(
        { schedule: schedule.name, from, tick, catchUp: schedule.catchUp, fired: Boolean(fired) },
        'schedule: ticks were missed while nothing ran',
      );
    }
    const next = nextTick(schedule.cron, schedule.timezone, now > tick ? now : tick);
    // false: another process moved it first (it fired the same tick: the key made one job).
    await ledger.advance(schedule.id, from, next, fired ? { tick, jobId: fired.jobId } : null);
    return fired;
  }

  async #run(): Promise<void> {
    const { logger, ledger, pollMs } = this.#opts;
    while (!this.#stopped) {
      let wait = pollMs;
      try {
        await this.fire();
        const soonest = await ledger.soonest();
        if (soonest) wait = Math.min(pollMs, soonest.getTime() - this.#now());
      } catch (error) {
        logger.warn({ err: error }, 'scheduler: a round failed; the next one tries again');
      }
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(MIN_WAIT_MS, wait));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
