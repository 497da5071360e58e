/**
 * What the API (and any other client of the core) may ask of the job system, and nothing more:
 * it never reaches into the ledger, the bus or the dispatcher. JobSystem implements it.
 */
import type { JobChange } from '../events/messages.ts';
import type { BackendName, ProbeResult, QueueCounts } from '../adapters/types.ts';
import type { BusTransport } from '../events/bus.ts';
import type { DispatcherStatus } from './dispatcher.ts';
import type { Change, Job, JobEvent, JobFilter, JobListFilter, RetentionSummary, ThroughputRow, WorkerRow } from './ledger/index.ts';
import type { BulkOptions, BulkResult } from './job-filter.ts';
import type { JobStatus } from './states.ts';
import type { TaskCatalog } from './task-registry.ts';
import type { RunService } from './runs/runs.ts';
import type { Limits } from './limits/limits.ts';
import type { Schedules } from './schedules/schedules.ts';

/** Schedules as a client may read and change them. */
export type ScheduleService = Pick<Schedules, 'list' | 'get' | 'create' | 'pause' | 'resume' | 'delete' | 'nextTicks' | 'jobs'>;

/** The shared limits as a client may see and steer them. */
export type LimitService = Pick<Limits, 'states' | 'resume' | 'onWait' | 'has'>;

export interface EnqueueOptions {
  idempotencyKey?: string | null;
  delayMs?: number | null;
  priority?: number | null;
  createdBy?: string | null;
  /** Labels to find the job by, besides the ones its task gives it. */
  tags?: readonly string[] | null;
  /** The schedule whose tick this job is (the scheduler sets it). */
  scheduleId?: string | null;
}

/** One job of a bulk enqueue. */
export interface EnqueueItem {
  type: string;
  input: unknown;
  opts?: EnqueueOptions;
}

export interface QueueInfo {
  backend: BackendName;
  queueName: string;
  reason: string;
  probes: ({ backend: BackendName } & ProbeResult)[];
  dispatcher: DispatcherStatus;
  eventBus: BusTransport;
  ledger: 'postgres' | 'embedded';
  queue: QueueCounts | { error: string };
  jobs: { status: JobStatus; type: string; count: number }[];
  workers: WorkerRow[];
  /** JOB_RETENTION and JOB_RETENTION_FAILED as written ('7d', 'forever'), and what retention did. */
  retention: RetentionSummary & { completed: string; failed: string };
}

export interface Readiness {
  ready: boolean;
  reason: string;
  backend: BackendName;
  usingFallback: boolean;
}

export interface JobService {
  /** The tasks this process knows (read only). */
  readonly tasks: TaskCatalog;
  /** Workflow runs: start, decide gates, retry, re-run, cancel, read, follow. */
  readonly runs: RunService;
  /** Shared limits: what each allows, what is taken, paused until, who waits; an operator may lift a pause. */
  readonly limits: LimitService;
  /** Recurring jobs: cron in a time zone, one job per tick however many processes run. */
  readonly schedules: ScheduleService;

  // ── jobs ──
  /** Validates the input against the task, records the job and hands it to a queue. */
  enqueue(type: string, input: unknown, opts?: EnqueueOptions): Promise<{ job: Job; deduplicated: boolean }>;
  /**
   * Many jobs at once (as BullMQ's addBulk): every item validated before any is written (issues
   * carry the item's index), then written together; idempotency per item.
   */
  enqueueMany(items: EnqueueItem[]): Promise<{ job: Job; deduplicated: boolean }[]>;
  /** Cancels a job: a waiting one at once, a running one by aborting it wherever it runs. */
  cancel(jobId: string, by?: string | null): Promise<Job>;
  /** Runs a FAILED or CANCELLED job again as a new attempt, with a fresh retry budget. */
  retry(jobId: string, by?: string | null): Promise<Job>;
  /**
   * Cancels, as `cancel` does each one, a batch of the jobs matching `filter` that a cancel
   * applies to (QUEUED, RETRYING, RUNNING): at most `opts.limit`, newest first; `hasMore` says
   * to call again. Each job's history says who, in a bulk cancel. A filter that narrows by no
   * ids, task, phase, tags or input is refused (InvalidInputError) unless `opts.all` (job-filter.ts).
   */
  cancelJobs(filter: JobFilter, opts?: BulkOptions): Promise<BulkResult>;
  /** The same for retry, over the FAILED and CANCELLED jobs matching `filter`. */
  retryJobs(filter: JobFilter, opts?: BulkOptions): Promise<BulkResult>;

  // ── reads ──
  getJob(jobId: string): Promise<Job | undefined>;
  events(jobId: string, opts?: { afterSeq?: number; last?: number }): Promise<JobEvent[]>;
  listJobs(filter: JobListFilter): Promise<{ jobs: Job[]; hasNextPage: boolean }>;
  queueInfo(): Promise<QueueInfo>;
  /** Jobs that ended per minute and status over the last `minutes` minutes (pruned jobs included). */
  throughput(minutes: number): Promise<ThroughputRow[]>;
  /** Per task, how long its oldest waiting job has been due, in seconds; tasks with none due are absent. */
  oldestWaiting(): Promise<{ type: string; seconds: number }[]>;
  /** Every job change this process hears of, from any process; returns the unsubscribe. */
  onJobChange(listener: (change: JobChange) => void): () => void;
  /**
   * Every change this process wrote to the ledger (a job row and the events the write appended),
   * before the write resolves; never another process's. For counting what this process did
   * (metrics). Listeners run inside the write's after-write step, so they must be quick; one that
   * throws is logged and never fails the write. Returns the unsubscribe.
   */
  onLocalChange(listener: (change: Change) => void): () => void;
  /** Whether this process can take and carry jobs now: the ledger answers and some queue takes them. */
  readiness(): Promise<Readiness>;
}
