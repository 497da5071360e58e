/**
 * Every command of `jobgraph`: its name, arguments, options and help, which is all main.ts needs to
 * read a command line and to print help. What a command does lives in a module of its own, loaded
 * when it runs (job-commands.ts, run-command.ts, schedule-command.ts): `--help` loads none of them,
 * and a command loads only its own, so the CLI starts in a fraction of what loading them all costs
 * (bench/cli-start.ts).
 */
import type { ApiClient } from './api.ts';
import type { CommandSpec, Parsed } from './args.ts';
import { JOB_STATUSES } from './display.ts';
import { BULK_LIMIT, MAX_TAGS, PRIORITY_RANGE } from './limits.ts';

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

const jobCommands = () => import('./job-commands.ts');

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
    tag: { type: 'string', multiple: true, value: 'T', help: `a label to find it by (jobs --tag T), besides its task's; repeat for more (at most ${MAX_TAGS})` },
    watch: { type: 'boolean', help: 'follow it with a progress bar until it ends; exit 1 unless it COMPLETED' },
  },
  details: [
    'Example:',
    `  jobgraph enqueue demo.countWords --input '{"text":"one two three","chunkSize":1,"pauseMs":500}' --watch`,
    'With --json: the job as JSON (after it ends, with --watch).',
  ].join('\n'),
  run: async (ctx, parsed) => (await jobCommands()).enqueue(ctx, parsed),
};

// ── watch ──

const watch: Command = {
  name: 'watch',
  args: '<id>',
  summary: 'Follow a job with a progress bar until it ends; exit 0 if it COMPLETED, 1 if not.',
  options: {},
  details: 'On a terminal, a bar; in a pipe or a log, one line per change (`42% step 3/7`), on stderr.\nThe outcome (result or error) goes to stdout; with --json, the final job as JSON.',
  run: async (ctx, parsed) => (await jobCommands()).watch(ctx, parsed),
};

// ── jobs ──

const jobs: Command = {
  name: 'jobs',
  args: '',
  summary: 'List jobs, newest first (yours, or every job with an admin token).',
  options: {
    ...filterOptions('only'),
    first: { type: 'string', value: 'N', help: 'how many, from 1 to 200 (default: 20)' },
  },
  details: [
    'Examples:',
    '  jobgraph jobs --tag report:<id>                       every job of one report',
    `  jobgraph jobs --input '{"datasetId":"<id>"}' --status FAILED`,
  ].join('\n'),
  run: async (ctx, parsed) => (await jobCommands()).jobs(ctx, parsed),
};

/** The options that choose jobs, for `jobs` (to list them) and `cancel`, `retry` (to act on them). */
function filterOptions(verb: string): Command['options'] {
  return {
    status: { type: 'string', multiple: true, value: 'S', help: `${verb} jobs in these statuses, comma-separated or repeated: ${JOB_STATUSES.join(', ')}` },
    task: { type: 'string', value: 'T', help: `${verb} jobs of this task` },
    tag: { type: 'string', multiple: true, value: 'T', help: `${verb} jobs with this tag (report:<id>); repeated: with every one of them` },
    input: { type: 'string', value: "'{…}'", help: `${verb} jobs whose input contains this JSON object, e.g. '{"reportId":"…"}' (@file reads a file)` },
  };
}

// ── cancel, retry ──

const cancel: Command = {
  name: 'cancel',
  args: '<id> | <filter>',
  summary: 'Cancel a job and print its new status (a running one once its worker has stopped it); or every job a filter matches.',
  options: {
    'no-wait': { type: 'boolean', help: 'print CANCELLING for a running job instead of waiting for CANCELLED' },
    ...bulkOptions('cancel'),
  },
  details: bulkDetails('cancel', 'QUEUED, RETRYING and RUNNING'),
  run: async (ctx, parsed) => (await jobCommands()).cancel(ctx, parsed),
};

const retry: Command = {
  name: 'retry',
  args: '<id> | <filter>',
  summary: 'Run a FAILED or CANCELLED job again as a new attempt and print its new status; or every one a filter matches.',
  options: {
    watch: { type: 'boolean', help: 'then follow it as `jobgraph watch` does (and exit as it does)' },
    ...bulkOptions('retry'),
  },
  details: bulkDetails('retry', 'FAILED and CANCELLED'),
  run: async (ctx, parsed) => (await jobCommands()).retry(ctx, parsed),
};

function bulkOptions(action: 'cancel' | 'retry'): Command['options'] {
  return {
    ...filterOptions(action),
    limit: { type: 'string', value: 'N', help: `at most N jobs, newest first, from 1 to ${BULK_LIMIT.max} (default: ${BULK_LIMIT.default})` },
    all: { type: 'boolean', help: 'allow a filter with no --task, --tag or --input (every job of its statuses)' },
    yes: { type: 'boolean', help: 'do not ask: act on what matches (needed when stdin is not a terminal)' },
    'dry-run': { type: 'boolean', help: 'print the ids of the jobs it would act on, and do nothing' },
  };
}

function bulkDetails(action: 'cancel' | 'retry', statuses: string): string {
  return [
    `With a filter instead of an id: ${action} the ${statuses} jobs it matches (yours; everyone's with an admin token),`,
    `at most --limit of them, each as \`jobgraph ${action} <id>\` would, its history saying who and "in a bulk ${action}".`,
    'It first says how many match and asks (or takes --yes), then acts on exactly those; if more match, run it again.',
    'Examples:',
    `  jobgraph ${action} --tag report:<id> --yes`,
    `  jobgraph ${action} --task demo.countWords --status ${action === 'retry' ? 'FAILED' : 'QUEUED'} --limit 500 --dry-run`,
    `  jobgraph ${action} --status ${action === 'retry' ? 'FAILED' : 'QUEUED'} --all --yes        every one of them (a filter of only statuses needs --all)`,
    'With --json: the answer (matched, matchedIds, acted, ids, hasMore).',
  ].join('\n');
}

// ── tasks ──

const tasks: Command = {
  name: 'tasks',
  args: '',
  summary: 'List the tasks the API can queue: name, phase, typed mutation, description.',
  options: {},
  run: async (ctx, parsed) => (await jobCommands()).tasks(ctx, parsed),
};

// ── run (run-command.ts) ──

export const RUN_METHODS = ['RANDOM', 'STRATIFIED', 'RISK_BASED'] as const;
export const RUN_STATUSES = ['RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;

const run: Command = {
  name: 'run',
  args: '<action> …',
  summary: "Workflow runs: start the report's testing, watch, show, list, approve, reject, retry, rerun, cancel.",
  options: {
    report: { type: 'string', value: 'ID', help: 'start: the report to test' },
    dataset: { type: 'string', value: 'ID', help: 'start: the dataset its samples come from' },
    size: { type: 'string', value: 'N', help: 'start: the sample size (default: 25)' },
    method: { type: 'string', value: 'M', help: `start: ${RUN_METHODS.join(', ')} (default: RANDOM)` },
    seed: { type: 'string', value: 'S', help: 'start: the sample seed (default: 1)' },
    'idempotency-key': { type: 'string', value: 'K', help: 'start: a second start with the same key returns the first run' },
    comment: { type: 'string', value: 'TEXT', help: 'approve, reject: what the reviewer says (kept with the decision)' },
    status: { type: 'string', value: 'S', help: `list: only runs in this status (${RUN_STATUSES.join(', ')})` },
    first: { type: 'string', value: 'N', help: 'list: how many, from 1 to 200 (default: 20)' },
    watch: { type: 'boolean', help: 'start, approve, retry, rerun: then follow the run as `run watch` does' },
  },
  details: [
    'Actions:',
    '  run start --report R --dataset D [--size N --method M --seed S] [--watch]   start the report testing; prints the run id',
    '  run watch <id>             follow it until it ends (exit 0 if COMPLETED, 1 if not); says when a gate waits',
    '  run show <id>              its steps: status, progress, decisions, errors',
    '  run list [--status S]      runs, newest first',
    '  run approve <id> <gate> [--comment C]    sign a gate off (an approver token, not the one that started it)',
    '  run reject <id> <gate> --comment C       reject it: the run fails, with who and why',
    '  run retry <id>             run the failed steps and what follows them again',
    '  run rerun <id> <step>      run a step and everything after it again',
    '  run cancel <id>            cancel every step not yet ended',
    'With --json: the run (or the list) as JSON.',
  ].join('\n'),
  run: async (ctx, parsed) => (await import('./run-command.ts')).runAction(ctx, parsed),
};

// ── schedules (schedule-command.ts) ──

const schedules: Command = {
  name: 'schedules',
  args: '[action] …',
  summary: 'Recurring jobs: list (with next ticks), show, create, pause, resume, delete.',
  options: {
    cron: { type: 'string', value: "'m h dom mon dow'", help: 'create: five fields, or six with seconds first' },
    tz: { type: 'string', value: 'ZONE', help: 'create: the IANA time zone the cron is read in (default: UTC)' },
    input: { type: 'string', value: "'{…}'", help: "create: the task's input as JSON (default: {})" },
    name: { type: 'string', value: 'NAME', help: 'create: a unique name (default: the task and a short id)' },
    'catch-up': { type: 'string', value: 'once|skip', help: 'create: ticks missed while nothing ran make one job (once, the default) or none (skip)' },
  },
  details: [
    'Actions:',
    '  schedules [list]                     every schedule: cron, time zone, next tick, last tick, paused',
    '  schedules show <id|name>             its next five ticks and the last ten jobs it made',
    "  schedules create <task> --cron '0 2 * * *' --tz Europe/Paris [--input J] [--name N] [--catch-up once|skip]",
    '  schedules pause <id|name>            no ticks until resumed',
    '  schedules resume <id|name>           goes on from the next tick (what the pause skipped is not made up)',
    '  schedules delete <id|name>           removes one made at run time (its jobs stay)',
    'With --json: the schedule (or the list) as JSON.',
  ].join('\n'),
  run: async (ctx, parsed) => (await import('./schedule-command.ts')).scheduleAction(ctx, parsed),
};

export const COMMANDS: readonly Command[] = [enqueue, jobs, watch, cancel, retry, tasks, run, schedules];
