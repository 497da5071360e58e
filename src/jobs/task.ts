import type { z } from 'zod';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Phase } from '../generated/prisma/enums.ts';
import type { Logger } from '../lib/logger.ts';
import type { BackoffPolicy } from './retry.ts';

export type { Phase };

/** What a handler gets besides its input. */
export interface TaskContext {
  readonly jobId: string;
  /** 1 for the first run, 2 for the first retry, … */
  readonly attempt: number;
  /** Aborted on cancel, timeout or shutdown; `signal.reason` is a JobAbortedError. */
  readonly signal: AbortSignal;
  readonly db: PrismaClient;
  readonly logger: Logger;
  /** Records progress (0–100, clamped) and an optional message; resolves once it is in the ledger. */
  progress(percent: number, message?: string): Promise<void>;
  /** Records a log line in the job's history. */
  log(message: string, data?: unknown): Promise<void>;
}

export interface TaskDefinition<I = unknown, O = unknown> {
  readonly name: string;
  readonly phase: Phase;
  readonly description?: string;
  /** Name of the task's typed GraphQL mutation; default: the last part of `name` ("demo.countWords" → countWords). */
  readonly mutation?: string;
  /** Validates input at enqueue time and again before the handler runs. */
  readonly input: z.ZodType<I>;
  readonly maxAttempts?: number;
  readonly backoff?: BackoffPolicy;
  readonly timeoutMs?: number;
  /** Most runs of this task at once in one worker process (the process limit still applies). */
  readonly concurrency?: number;
  readonly handler: (input: I, ctx: TaskContext) => Promise<O>;
}

/** Declares a task; the identity function that gives handlers their typed input. */
export function defineTask<I, O>(definition: TaskDefinition<I, O>): TaskDefinition<I, O> {
  if (!/^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/.test(definition.name)) {
    throw new Error(`Task name "${definition.name}" must be dotted camelCase, e.g. "planning.generateAttributes"`);
  }
  return definition;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds tasks of every input type
export type AnyTask = TaskDefinition<any, any>;
