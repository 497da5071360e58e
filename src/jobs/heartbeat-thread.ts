/**
 * A worker process's heartbeats, written from a thread of their own (heartbeat-worker.ts): a
 * handler that computes for a minute without yielding blocks the process's event loop, and a
 * heartbeat on that loop would stop, so another worker's reaper would declare the job lost and
 * run it a second time while it still runs. The thread keeps beating for every job the process
 * runs, hands each beat's answer (which jobs are still held, which are being cancelled) back to
 * the executor, and kills the process when a blocked loop keeps a job past its timeout or its
 * cancellation (see heartbeat-worker.ts).
 */
import { Worker } from 'node:worker_threads';
import type { JobStatus } from '../generated/prisma/enums.ts';
import type { Logger } from '../lib/logger.ts';

/** What the thread is started with. */
export interface HeartbeatSetup {
  /** The ledger's PostgreSQL URL (the thread has a connection of its own). */
  url: string;
  applicationName: string;
  workerId: string;
  intervalMs: number;
  /** The loop counts as blocked when it has said nothing to the thread for this long. */
  blockedAfterMs: number;
  /** How long a cancelled job may keep running on a blocked loop. */
  graceMs: number;
  /** Kill the process when a blocked loop keeps a job past its timeout or its cancellation. */
  killWhenStuck: boolean;
}

export type ToHeartbeat = { type: 'jobs'; jobs: [string, number | null][] } | { type: 'tick' } | { type: 'stop' };
export type BeatReport = { type: 'held'; asked: string[]; held: [string, JobStatus][] } | { type: 'failed'; message: string };

export class HeartbeatThread {
  readonly #worker: Worker;
  readonly #tick: NodeJS.Timeout;
  /** Resolves when the thread has ended, however (a thread that failed to start has ended already). */
  readonly #exited: Promise<void>;
  #closed: Promise<void> | undefined;

  constructor(setup: HeartbeatSetup, onBeat: (asked: string[], held: Map<string, JobStatus>) => void, logger: Logger) {
    this.#worker = new Worker(new URL('./heartbeat-worker.ts', import.meta.url), { workerData: setup });
    this.#worker.on('message', (report: BeatReport) => {
      if (report.type === 'held') onBeat(report.asked, new Map(report.held));
      else logger.warn({ reason: report.message }, 'heartbeat failed');
    });
    this.#worker.on('error', (error) => logger.error({ err: error }, 'the heartbeat thread failed'));
    this.#exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.unref();
    // The loop's sign of life: the thread judges a handler stuck only while these stop.
    this.#tick = setInterval(() => this.#worker.postMessage({ type: 'tick' } satisfies ToHeartbeat), Math.max(50, setup.intervalMs / 4));
    this.#tick.unref();
  }

  /** The jobs this process runs now, each with the time after which a blocked loop means it is stuck (null: never). */
  setJobs(jobs: [string, number | null][]): void {
    this.#worker.postMessage({ type: 'jobs', jobs } satisfies ToHeartbeat);
  }

  /** Stops the thread. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      clearInterval(this.#tick);
      this.#worker.postMessage({ type: 'stop' } satisfies ToHeartbeat);
      const timer = setTimeout(() => void this.#worker.terminate(), 2_000);
      await this.#exited;
      clearTimeout(timer);
    })());
  }
}
