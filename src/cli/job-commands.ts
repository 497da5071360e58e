/**
 * What `enqueue`, `jobs`, `watch`, `cancel`, `retry` and `tasks` do (their options and help are in
 * commands.ts); loaded when one of them runs.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { intOption, positionals, stringOption, type Parsed } from './args.ts';
import type { Context } from './commands.ts';
import { createProgressView, JOB_STATUSES, outcomeLines, percent, table, timestamp, type JobStatus } from './display.ts';
import { EXIT, UsageError } from './errors.ts';
import { BULK_LIMIT, MAX_DELAY_MS, PRIORITY_RANGE } from './limits.ts';
import {
  CANCEL_JOB,
  CANCEL_JOBS,
  ENQUEUE_JOB,
  LIST_JOBS,
  LIST_TASKS,
  RETRY_JOB,
  RETRY_JOBS,
  type BulkAnswer,
  type CancelJobData,
  type CancelJobsData,
  type JobFilterInput,
  type RetryJobsData,
  type EnqueueJobData,
  type JobsData,
  type JobView,
  type RetryJobData,
  type TasksData,
} from './operations.ts';
import { followJob } from './watch.ts';

const printJson = (ctx: Context, value: unknown) => ctx.out(JSON.stringify(value, null, 2));

// ── enqueue ──

export async function enqueue(ctx: Context, parsed: Parsed): Promise<number> {
  const [type] = positionals(parsed, ['task'], 'enqueue');
  const input = await readInput(stringOption(parsed, 'input') ?? '{}', 'enqueue');
  const variables = {
    type,
    input,
    idempotencyKey: stringOption(parsed, 'idempotency-key'),
    delayMs: intOption(parsed, 'delay-ms', 0, MAX_DELAY_MS, 'enqueue'),
    priority: intOption(parsed, 'priority', PRIORITY_RANGE.min, PRIORITY_RANGE.max, 'enqueue'),
    tags: tags(parsed),
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
}

/** The --input value: JSON, or `@path` to read it from a file, or `-` from stdin. */
async function readInput(raw: string, command: string): Promise<unknown> {
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
    throw new UsageError(`${from}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, command);
  }
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new UsageError(`${from} is not valid JSON: ${(error as Error).message}`, command);
  }
}

// ── watch ──

export async function watch(ctx: Context, parsed: Parsed): Promise<number> {
  const [id] = positionals(parsed, ['id'], 'watch');
  return watchJob(ctx, id!);
}

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

export async function jobs(ctx: Context, parsed: Parsed): Promise<number> {
  positionals(parsed, [], 'jobs');
  const variables = {
    first: intOption(parsed, 'first', 1, 200, 'jobs') ?? 20,
    filter: await filterFrom(parsed, 'jobs'),
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
}

function statuses(parsed: Parsed, command: string): JobStatus[] | undefined {
  const raw = parsed.values.status as string[] | undefined;
  if (!raw?.length) return undefined;
  const wanted = raw.flatMap((value) => value.split(',')).map((value) => value.trim().toUpperCase()).filter(Boolean);
  const unknown = wanted.filter((value) => !(JOB_STATUSES as readonly string[]).includes(value));
  if (unknown.length) throw new UsageError(`--status ${unknown.join(',')}: not a status; one of ${JOB_STATUSES.join(', ')}`, command);
  return wanted as JobStatus[];
}

const tags = (parsed: Parsed) => (parsed.values.tag as string[] | undefined)?.filter(Boolean);

/** The JobFilter of the filter options given (status, task, tag, input). */
async function filterFrom(parsed: Parsed, command: string): Promise<JobFilterInput> {
  const raw = stringOption(parsed, 'input');
  const input = raw === undefined ? undefined : await readInput(raw, command);
  if (input !== undefined && (input === null || typeof input !== 'object' || Array.isArray(input))) {
    throw new UsageError(`--input must be a JSON object, e.g. '{"reportId":"…"}'`, command);
  }
  const status = statuses(parsed, command);
  const type = stringOption(parsed, 'task');
  const tagged = tags(parsed);
  return { ...(status ? { status } : {}), ...(type ? { type } : {}), ...(tagged?.length ? { tags: tagged } : {}), ...(input ? { input } : {}) };
}

// ── cancel, retry ──

/** How long `cancel` waits for a running job's worker to stop it. */
const CANCEL_WAIT_MS = 30_000;

export async function cancel(ctx: Context, parsed: Parsed): Promise<number> {
  if (parsed.positionals.length === 0) return bulk(ctx, parsed, 'cancel');
  noFilter(parsed, 'cancel');
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
}

export async function retry(ctx: Context, parsed: Parsed): Promise<number> {
  if (parsed.positionals.length === 0) return bulk(ctx, parsed, 'retry');
  noFilter(parsed, 'retry');
  const [id] = positionals(parsed, ['id'], 'retry');
  const { retryJob } = await ctx.api.request<RetryJobData>(RETRY_JOB, { id });
  if (parsed.values.watch) {
    if (!ctx.json) ctx.out(retryJob.job.status);
    return watchJob(ctx, retryJob.job.id);
  }
  if (ctx.json) printJson(ctx, retryJob.job);
  else ctx.out(retryJob.job.status);
  return EXIT.ok;
}

// ── bulk cancel, retry ──

const BULK_FLAGS = ['status', 'task', 'tag', 'input', 'limit', 'all', 'yes', 'dry-run'] as const;

/** A single cancel or retry takes no filter options. */
function noFilter(parsed: Parsed, action: 'cancel' | 'retry'): void {
  const given = BULK_FLAGS.filter((flag) => parsed.values[flag] !== undefined);
  if (given.length) throw new UsageError(`${action} <id> acts on one job: leave out ${given.map((flag) => `--${flag}`).join(', ')}, or the id to act on a filter`, action);
}

/**
 * A bulk cancel or retry: a dry run says which jobs match (at most --limit), the person confirms
 * (or --yes), then the action is sent for exactly those ids with the same filter, so a job that
 * started to match meanwhile is not touched, and one that stopped matching is left alone.
 */
async function bulk(ctx: Context, parsed: Parsed, action: 'cancel' | 'retry'): Promise<number> {
  if (parsed.values.watch) throw new UsageError('--watch follows one job: give its id', action);
  const filter = await filterFrom(parsed, action);
  const all = parsed.values.all === true;
  const narrowed = Boolean(filter.type || filter.tags?.length || (filter.input && Object.keys(filter.input).length));
  if (!narrowed && !all) {
    const which = filter.status?.length ? `every ${filter.status.join('/')} job` : `every job a ${action} applies to`;
    throw new UsageError(`give <id>, or a filter: --task, --tag or --input (or --all for ${which})`, action);
  }
  const limit = intOption(parsed, 'limit', 1, BULK_LIMIT.max, action) ?? BULK_LIMIT.default;
  const send = async (variables: { filter: JobFilterInput; limit: number; all: boolean; dryRun: boolean }): Promise<BulkAnswer> =>
    action === 'cancel'
      ? (await ctx.api.request<CancelJobsData>(CANCEL_JOBS, variables)).cancelJobs
      : (await ctx.api.request<RetryJobsData>(RETRY_JOBS, variables)).retryJobs;
  const preview = await send({ filter, limit, all, dryRun: true });
  const more = preview.hasMore ? ` (more match beyond these ${preview.matched}: run it again for them)` : '';
  const count = (n: number) => `${n} job${n === 1 ? '' : 's'}`;
  if (parsed.values['dry-run'] || preview.matched === 0) {
    if (ctx.json) printJson(ctx, preview);
    else for (const id of preview.matchedIds) ctx.out(id);
    ctx.err(`${count(preview.matched)} to ${action}${more}${parsed.values['dry-run'] ? '; nothing done (--dry-run)' : ''}`);
    return EXIT.ok;
  }
  if (!parsed.values.yes) {
    if (!process.stdin.isTTY) throw new UsageError(`${count(preview.matched)} match; add --yes to ${action} them (or --dry-run to list them)`, action);
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await prompt.question(`${action} ${count(preview.matched)}${more}? [y/N] `).finally(() => prompt.close());
    if (!/^y(es)?$/i.test(answer.trim())) {
      ctx.err('nothing done');
      return EXIT.ok;
    }
  }
  const done = await send({ filter: { ...filter, ids: preview.matchedIds }, limit, all, dryRun: false });
  if (ctx.json) printJson(ctx, { ...done, hasMore: preview.hasMore });
  else {
    const past = action === 'cancel' ? 'cancelled' : 'retried';
    const left = preview.matched - done.acted;
    ctx.out(`${past} ${done.acted} of ${count(preview.matched)}${left ? ` (${left} had moved on meanwhile and were left alone)` : ''}`);
  }
  if (preview.hasMore) ctx.err(`more jobs match: run it again for the next ${limit}`);
  return EXIT.ok;
}

// ── tasks ──

export async function tasks(ctx: Context, parsed: Parsed): Promise<number> {
  positionals(parsed, [], 'tasks');
  const { tasks } = await ctx.api.request<TasksData>(LIST_TASKS);
  if (ctx.json) {
    printJson(ctx, tasks);
    return EXIT.ok;
  }
  const rows = tasks.map((task) => [task.name, task.phase, task.mutation, task.description ?? '']);
  for (const line of table(['NAME', 'PHASE', 'MUTATION', 'DESCRIPTION'], rows)) ctx.out(line);
  return EXIT.ok;
}
