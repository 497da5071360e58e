import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from './api.ts';
import { intOption, positionals, stringOption, type CommandSpec, type Parsed } from './args.ts';
import { createProgressView, JOB_STATUSES, outcomeLines, percent, table, timestamp, type JobStatus } from './display.ts';
import { EXIT, UsageError } from './errors.ts';
import { MAX_DELAY_MS, PRIORITY_RANGE } from '../jobs/enqueue-options.ts';
import {
  CANCEL_JOB,
  ENQUEUE_JOB,
  LIST_JOBS,
  LIST_TASKS,
  RETRY_JOB,
  type CancelJobData,
  type EnqueueJobData,
  type JobsData,
  type JobView,
  type RetryJobData,
  type TasksData,
} from './operations.ts';
import { followJob } from './watch.ts';
import { runCommand } from './run-command.ts';

/** What a command works with: the API, the output mode, and where to write. */
export interface Context {
  api: ApiClient;
  json: boolean;
  /** A line (or lines) on stdout: the command's answer. */
  out(line: string): void;
  /** A line on stderr: notes for the person at the terminal. */
  err(line: string): void;
  /** Where progress goes: a bar if it is a terminal. */
  progressStream: NodeJS.WriteStream;
}

export type Command = CommandSpec<(ctx: Context, parsed: Parsed) => Promise<number>>;

const printJson = (ctx: Context, value: unknown) => ctx.out(JSON.stringify(value, null, 2));

// ── enqueue ──

const enqueue: Command = {
  name: 'enqueue',
  args: '<task>',
  summary: 'Queue a job of a task (`jobgraph tasks` lists them) and print its id.',
  options: {
    input: { type: 'string', value: "'{…}'", help: "the task's input as JSON; @file reads a file, - reads stdin (default: {})" },
    'idempotency-key': { type: 'string', value: 'K', help: 'a second enqueue with the same key returns the first job' },
    'delay-ms': { type: 'string', value: 'N', help: 'run it no sooner than N ms from now' },
    priority: { type: 'string', value: 'P', help: `from ${PRIORITY_RANGE.min} to ${PRIORITY_RANGE.max}, higher first (a negative one as --priority=-5)` },
    watch: { type: 'boolean', help: 'follow it with a progress bar until it ends; exit 1 unless it COMPLETED' },
  },
  details: [
    'Example:',
    `  jobgraph enqueue demo.countWords --input '{"text":"one two three","chunkSize":1,"pauseMs":500}' --watch`,
    'With --json: the job as JSON (after it ends, with --watch).',
  ].join('\n'),
  async run(ctx, parsed) {
    const [type] = positionals(parsed, ['task'], 'enqueue');
    const input = await readInput(stringOption(parsed, 'input') ?? '{}');
    const variables = {
      type,
      input,
      idempotencyKey: stringOption(parsed, 'idempotency-key'),
      delayMs: intOption(parsed, 'delay-ms', 0, MAX_DELAY_MS, 'enqueue'),
      priority: intOption(parsed, 'priority', PRIORITY_RANGE.min, PRIORITY_RANGE.max, 'enqueue'),
    };
    const { enqueueJob } = await ctx.api.request<EnqueueJobData>(ENQUEUE_JOB, variables);
    const { job, deduplicated } = enqueueJob;
    if (deduplicated) ctx.err(`the idempotency key was used before: this is the job it made then (${job.status})`);
    if (parsed.values.watch) {
      if (!ctx.json) ctx.out(job.id);
      return watchJob(ctx, job.id);
    }
    if (ctx.json) printJson(ctx, { ...job, deduplicated });
    else ctx.out(job.id);
    return EXIT.ok;
  },
};

/** The --input value: JSON, or `@path` to read it from a file, or `-` from stdin. */
async function readInput(raw: string): Promise<unknown> {
  let source = raw;
  let from = '--input';
  try {
    if (raw === '-') {
      source = await text(process.stdin);
      from = '--input - (stdin)';
    } else if (raw.startsWith('@')) {
      source = await readFile(raw.slice(1), 'utf8');
      from = `--input ${raw}`;
    }
  } catch (error) {
    throw new UsageError(`${from}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'enqueue');
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new UsageError(`${from} is not valid JSON: ${(error as Error).message}`, 'enqueue');
  }
}

// ── watch ──

const watch: Command = {
  name: 'watch',
  args: '<id>',
  summary: 'Follow a job with a progress bar until it ends; exit 0 if it COMPLETED, 1 if not.',
  options: {},
  details: 'On a terminal, a bar; in a pipe or a log, one line per change (`42% step 3/7`), on stderr.\nThe outcome (result or error) goes to stdout; with --json, the final job as JSON.',
  async run(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'watch');
    return watchJob(ctx, id!);
  },
};

/** Shows the job's progress until it ends, prints the outcome, and says what it means as an exit status. */
async function watchJob(ctx: Context, id: string): Promise<number> {
  const view = createProgressView(ctx.progressStream);
  // Ctrl-C stops watching, not the job: give the terminal back and say how to resume.
  const interrupted = (signal: NodeJS.Signals) => {
    view.stop();
    ctx.err(`stopped watching job ${id}; it goes on: \`jobgraph watch ${id}\` follows it again`);
    process.exit(signal === 'SIGINT' ? EXIT.interrupted : 143);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const job = await followJob(ctx.api, id, (update) => view.update(update), {
      onReconnect: (reason, attempt) => view.note(`${reason}; reconnecting (${attempt})…`),
    });
    view.stop();
    if (ctx.json) printJson(ctx, job);
    else for (const line of outcomeLines(job)) ctx.out(line);
    return job.status === 'COMPLETED' ? EXIT.ok : EXIT.jobFailed;
  } finally {
    view.stop();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
}

// ── jobs ──

const jobs: Command = {
  name: 'jobs',
  args: '',
  summary: 'List jobs, newest first (yours, or every job with an admin token).',
  options: {
    status: { type: 'string', multiple: true, value: 'S', help: `only these statuses, comma-separated or repeated: ${JOB_STATUSES.join(', ')}` },
    task: { type: 'string', value: 'T', help: 'only jobs of this task' },
    first: { type: 'string', value: 'N', help: 'how many, from 1 to 200 (default: 20)' },
  },
  async run(ctx, parsed) {
    positionals(parsed, [], 'jobs');
    const variables = {
      first: intOption(parsed, 'first', 1, 200, 'jobs') ?? 20,
      status: statuses(parsed),
      type: stringOption(parsed, 'task'),
    };
    const { jobs } = await ctx.api.request<JobsData>(LIST_JOBS, variables);
    if (ctx.json) {
      printJson(ctx, jobs.nodes);
    } else if (jobs.nodes.length) {
      const rows = jobs.nodes.map((job) => [job.id, job.type, job.status, percent(job.progress), `${job.attempt}/${job.maxAttempts}`, timestamp(job.createdAt)]);
      for (const line of table(['ID', 'TASK', 'STATUS', 'PROGRESS', 'ATTEMPT', 'CREATED (UTC)'], rows)) ctx.out(line);
    } else {
      ctx.err('no jobs');
    }
    if (jobs.pageInfo.hasNextPage) ctx.err(`more jobs than these ${jobs.nodes.length}: raise --first (up to 200) or filter`);
    return EXIT.ok;
  },
};

function statuses(parsed: Parsed): JobStatus[] | undefined {
  const raw = parsed.values.status as string[] | undefined;
  if (!raw?.length) return undefined;
  const wanted = raw.flatMap((value) => value.split(',')).map((value) => value.trim().toUpperCase()).filter(Boolean);
  const unknown = wanted.filter((value) => !(JOB_STATUSES as readonly string[]).includes(value));
  if (unknown.length) throw new UsageError(`--status ${unknown.join(',')}: not a status; one of ${JOB_STATUSES.join(', ')}`, 'jobs');
  return wanted as JobStatus[];
}

// ── cancel, retry ──

/** How long `cancel` waits for a running job's worker to stop it. */
const CANCEL_WAIT_MS = 30_000;

const cancel: Command = {
  name: 'cancel',
  args: '<id>',
  summary: 'Cancel a job and print its new status: a waiting job at once, a running one once its worker has stopped it.',
  options: {
    'no-wait': { type: 'boolean', help: 'print CANCELLING for a running job instead of waiting for CANCELLED' },
  },
  async run(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'cancel');
    let { cancelJob: job }: { cancelJob: JobView } = await ctx.api.request<CancelJobData>(CANCEL_JOB, { id });
    if (job.status === 'CANCELLING' && !parsed.values['no-wait']) {
      // The API has asked the job's worker to abort it: CANCELLED follows when the handler stops.
      const giveUp = new AbortController();
      const timeout = sleep(CANCEL_WAIT_MS, undefined, { signal: giveUp.signal }).catch(() => undefined);
      const ended = await Promise.race([followJob(ctx.api, job.id, () => {}), timeout]).finally(() => giveUp.abort());
      if (ended) job = ended;
      else ctx.err(`the job's worker has not stopped it within ${CANCEL_WAIT_MS / 1000} s; it ends CANCELLED when it does`);
    }
    if (ctx.json) printJson(ctx, job);
    else ctx.out(job.status);
    return EXIT.ok;
  },
};

const retry: Command = {
  name: 'retry',
  args: '<id>',
  summary: 'Run a FAILED or CANCELLED job again as a new attempt; print its new status.',
  options: {
    watch: { type: 'boolean', help: 'then follow it as `jobgraph watch` does (and exit as it does)' },
  },
  async run(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'retry');
    const { retryJob } = await ctx.api.request<RetryJobData>(RETRY_JOB, { id });
    if (parsed.values.watch) {
      if (!ctx.json) ctx.out(retryJob.job.status);
      return watchJob(ctx, retryJob.job.id);
    }
    if (ctx.json) printJson(ctx, retryJob.job);
    else ctx.out(retryJob.job.status);
    return EXIT.ok;
  },
};

// ── tasks ──

const tasks: Command = {
  name: 'tasks',
  args: '',
  summary: 'List the tasks the API can queue: name, phase, typed mutation, description.',
  options: {},
  async run(ctx, parsed) {
    positionals(parsed, [], 'tasks');
    const { tasks } = await ctx.api.request<TasksData>(LIST_TASKS);
    if (ctx.json) {
      printJson(ctx, tasks);
      return EXIT.ok;
    }
    const rows = tasks.map((task) => [task.name, task.phase, task.mutation, task.description ?? '']);
    for (const line of table(['NAME', 'PHASE', 'MUTATION', 'DESCRIPTION'], rows)) ctx.out(line);
    return EXIT.ok;
  },
};

export const COMMANDS: readonly Command[] = [enqueue, jobs, watch, cancel, retry, tasks, runCommand];
