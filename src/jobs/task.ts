import { parsePeriod } from '../lib/duration.ts';
import type { z } from 'zod';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Phase } from '../generated/prisma/enums.ts';
import type { FieldIssue } from '../lib/issues.ts';
import type { Logger } from '../lib/logger.ts';
import type { BackoffPolicy } from './retry.ts';

export type { Phase };

/**
 * What the application hands every task (the domain's collaborators: an LLM client, …), given to
 * the job system when it starts. The application declares its members by module augmentation
 * (src/tasks/deps.ts), so the core knows none of them and tests can hand a task fakes.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in by declaration merging
export interface TaskDeps {}

/** What a handler gets besides its input; `C`: what it saves with `checkpoint` (TaskDefinition.checkpoint). */
export interface TaskContext<C = unknown> {
  readonly jobId: string;
  /** 1 for the first run, 2 for the first retry, … */
  readonly attempt: number;
  /** Aborted on cancel, timeout or shutdown; `signal.reason` is a JobAbortedError. */
  readonly signal: AbortSignal;
  readonly db: PrismaClient;
  /**
   * The same database without the ORM, for reads of many rows (streaming a table): the ORM's raw
   * queries copy every row several times on its way. Rows come back as the driver gives them.
   */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  readonly deps: TaskDeps;
  readonly logger: Logger;
  /**
   * Records progress (0–100, clamped) and an optional message; resolves once it (or a later
   * value) is in the ledger. Calls closer together than a few a second are coalesced: the
   * latest wins, so a task may report every row without writing a ledger row for each.
   */
  progress(percent: number, message?: string): Promise<void>;
  /**
   * Saves where the task is (any JSON). An automatic retry of the same job (after a lost worker,
   * a timeout, a retryable failure) gets it back as `resumeFrom`; retryJob starts from scratch.
   */
  checkpoint(state: C): Promise<void>;
  /**
   * What the last attempt saved with `checkpoint`, if any. With the task's `checkpoint` schema, only
   * a saved state that fits it: one that does not (saved before the task changed) is dropped.
   */
  readonly resumeFrom: C | undefined;
  /** Records a log line in the job's history. */
  log(message: string, data?: unknown): Promise<void>;
}

/** `In`: the input as a caller writes it (before the schema's defaults); `I`: as the handler gets it. */
export interface TaskDefinition<I = unknown, O = unknown, C = unknown, In = I> {
  readonly name: string;
  readonly phase: Phase;
  readonly description?: string;
  /** Name of the task's typed GraphQL mutation; default: the last part of `name` ("demo.countWords" → countWords). */
  readonly mutation?: string;
  /** Validates input at enqueue time and again before the handler runs. */
  readonly input: z.ZodType<I, In>;
  readonly maxAttempts?: number;
  readonly backoff?: BackoffPolicy;
  readonly timeoutMs?: number;
  /** Most runs of this task at once in one worker process (the process limit still applies). */
  readonly concurrency?: number;
  /**
   * Shared limits (defineLimit) each run takes one request from before its handler starts, holding
   * one of their concurrency slots until it ends; while a limit has no room the job waits, and its
   * history says so. (The LLM client takes from `llm` per call: a task that calls it need not name it.)
   */
  readonly limits?: readonly string[];
  /**
   * A key computed from the input (a report's id) of which at most `limit` jobs (default 1) run at
   * once, across every process; `policy` says what a new job does while the key is busy:
   * 'queue' (default) waits its turn, in order; 'cancel-in-progress' cancels the older ones (their
   * handlers are aborted) and runs once they have stopped; 'drop' is not recorded, and the enqueue
   * is answered with the job already there (`deduplicated: true`; needs limit 1).
   */
  readonly concurrencyKey?: {
    /** null: this job has no key (runs as if the task declared none). */
    readonly key: (input: I) => string | null;
    readonly limit?: number;
    readonly policy?: ConcurrencyPolicy;
  };
  /**
   * Repeated enqueues with one key within `window` ('5s') of each other collapse into one job: a
   * job of the key that has not started yet takes the newest input and waits `window` again; the
   * enqueue is answered with it (`deduplicated: true`). The job starts once `window` passes with no
   * enqueue of its key.
   */
  readonly debounce?: { readonly key: (input: I) => string; readonly window: string };
  /**
   * The group whose jobs take turns with other groups' (fairness): by default who enqueued the job;
   * a task may group by its input instead (a tenant, a report).
   */
  readonly fairness?: { readonly group: (input: I, createdBy: string | null) => string };
  /** Labels each job of this task carries, from its input (`report:<id>`), to find it by; an enqueue may add more. */
  readonly tags?: (input: I) => readonly string[];
  /**
   * Checks the input against the data at enqueue time (an id that names nothing): the issues,
   * by field path, refuse the job before it is written. Empty: accepted.
   */
  readonly check?: (input: I, ctx: { db: PrismaClient; deps: TaskDeps }) => Promise<FieldIssue[]>;
  /**
   * The shape of what the task saves with `ctx.checkpoint`, so `ctx.resumeFrom` is typed. A job in
   * flight when the task's checkpoint changed shape resumes from scratch, with the reason in its
   * history, instead of crashing on a state it cannot read.
   */
  readonly checkpoint?: z.ZodType<C>;
  /**
   * How long this task's finished jobs are kept, over JOB_RETENTION and JOB_RETENTION_FAILED:
   * '90d', '12h', 'forever'. `completed` also covers CANCELLED.
   */
  readonly retention?: { readonly completed?: string; readonly failed?: string };
  readonly handler: (input: I, ctx: TaskContext<C>) => Promise<O>;
}

export type ConcurrencyPolicy = 'queue' | 'cancel-in-progress' | 'drop';

/** Declares a task; the identity function that gives handlers their typed input (and checkpoint). */
export function defineTask<I, O, C = unknown, In = I>(definition: TaskDefinition<I, O, C, In>): TaskDefinition<I, O, C, In> {
  if (!/^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/.test(definition.name)) {
    throw new Error(`Task name "${definition.name}" must be dotted camelCase, e.g. "planning.generateAttributes"`);
  }
  // A typo in a retention period stops startup, not the first prune a week later.
  for (const period of Object.values(definition.retention ?? {})) parsePeriod(period);
  const key = definition.concurrencyKey;
  if (key) {
    const limit = key.limit ?? 1;
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`Task ${definition.name}: concurrencyKey.limit must be a whole number of at least 1, not ${limit}`);
    if (key.policy === 'drop' && limit !== 1) throw new Error(`Task ${definition.name}: concurrencyKey policy 'drop' answers with the one job of its key, so its limit must be 1`);
  }
  if (definition.debounce) {
    const window = parsePeriod(definition.debounce.window);
    if (!Number.isFinite(window) || window <= 0) throw new Error(`Task ${definition.name}: debounce.window must be a finite period, not "${definition.debounce.window}"`);
  }
  return definition;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds tasks of every input type
export type AnyTask = TaskDefinition<any, any, any>;
