/**
 * `jobgraph schedules [action]`: recurring jobs from the command line — list them with their next
 * tick, show one with its next ticks and the jobs it made, create, pause, resume, delete. A schedule
 * is named by its id or its name. Its options and help are in commands.ts; this module is loaded
 * when it runs.
 */
import { positionals, stringOption, type Parsed } from './args.ts';
import type { Context } from './commands.ts';
import { table, timestamp } from './display.ts';
import { ApiError, EXIT, UsageError } from './errors.ts';
import type {
  CliCreateScheduleMutation,
  CliDeleteScheduleMutation,
  CliPauseScheduleMutation,
  CliResumeScheduleMutation,
  CliScheduleQuery,
  CliSchedulesQuery,
  ScheduleViewFragment,
} from './graphql.generated.ts';
import { withFragments } from '../lib/graphql-text.ts';

// The operations live with the command (as run-command's would in operations.ts): their answers'
// types are generated from them (`npm run codegen`).
const SCHEDULE_VIEW = /* GraphQL */ `fragment ScheduleView on Schedule {
  id name task input cron timezone catchUp source paused nextRunAt lastRunAt createdBy
}`;
const LIST_SCHEDULES = withFragments(/* GraphQL */ `query CliSchedules { schedules { ...ScheduleView } }`, SCHEDULE_VIEW);
const SHOW_SCHEDULE = withFragments(
  /* GraphQL */ `query CliSchedule($id: ID!) { schedule(id: $id) { ...ScheduleView nextRuns(count: 5) jobs(first: 10) { id status createdAt finishedAt } } }`,
  SCHEDULE_VIEW,
);
const CREATE_SCHEDULE = withFragments(
  /* GraphQL */ `mutation CliCreateSchedule($task: String!, $input: JSON!, $cron: String!, $timezone: String, $name: String, $catchUp: ScheduleCatchUp) {
    createSchedule(task: $task, input: $input, cron: $cron, timezone: $timezone, name: $name, catchUp: $catchUp) { ...ScheduleView }
  }`,
  SCHEDULE_VIEW,
);
const PAUSE_SCHEDULE = withFragments(/* GraphQL */ `mutation CliPauseSchedule($id: ID!) { pauseSchedule(id: $id) { ...ScheduleView } }`, SCHEDULE_VIEW);
const RESUME_SCHEDULE = withFragments(/* GraphQL */ `mutation CliResumeSchedule($id: ID!) { resumeSchedule(id: $id) { ...ScheduleView } }`, SCHEDULE_VIEW);
const DELETE_SCHEDULE = withFragments(/* GraphQL */ `mutation CliDeleteSchedule($id: ID!) { deleteSchedule(id: $id) { ...ScheduleView } }`, SCHEDULE_VIEW);

const ACTIONS = ['list', 'show', 'create', 'pause', 'resume', 'delete'] as const;
type Action = (typeof ACTIONS)[number];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `jobgraph schedules [action] …` (its options and help are in commands.ts). */
export async function scheduleAction(ctx: Context, parsed: Parsed): Promise<number> {
  const [action = 'list'] = parsed.positionals as [string | undefined];
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`schedules: the action is one of ${ACTIONS.join(', ')}`, 'schedules');
  return ACTION_RUNNERS[action as Action](ctx, { ...parsed, positionals: parsed.positionals.slice(1) });
}

type View = ScheduleViewFragment;

const ACTION_RUNNERS: Record<Action, (ctx: Context, parsed: Parsed) => Promise<number>> = {
  async list(ctx, parsed) {
    positionals(parsed, [], 'schedules');
    const { schedules } = await ctx.api.request<CliSchedulesQuery>(LIST_SCHEDULES);
    if (ctx.json) ctx.out(JSON.stringify(schedules, null, 2));
    else if (schedules.length === 0) ctx.err('no schedules');
    else for (const line of table(['ID', 'NAME', 'TASK', 'CRON', 'TIME ZONE', 'NEXT (UTC)', 'LAST (UTC)', 'STATE'], schedules.map(row))) ctx.out(line);
    return EXIT.ok;
  },
  async show(ctx, parsed) {
    const [ref] = positionals(parsed, ['id|name'], 'schedules');
    const { schedule } = await ctx.api.request<CliScheduleQuery>(SHOW_SCHEDULE, { id: await idOf(ctx, ref!) });
    if (ctx.json) {
      ctx.out(JSON.stringify(schedule, null, 2));
      return EXIT.ok;
    }
    for (const line of table(['ID', 'NAME', 'TASK', 'CRON', 'TIME ZONE', 'NEXT (UTC)', 'LAST (UTC)', 'STATE'], [row(schedule)])) ctx.out(line);
    ctx.out(`input: ${JSON.stringify(schedule.input)}  catch-up: ${schedule.catchUp.toLowerCase()}  source: ${schedule.source}`);
    ctx.out(`next ticks: ${schedule.nextRuns.length ? schedule.nextRuns.map(timestamp).join(', ') : 'none (paused)'}`);
    if (schedule.jobs.length === 0) ctx.out('no jobs yet');
    else for (const line of table(['JOB', 'STATUS', 'CREATED (UTC)', 'FINISHED (UTC)'], schedule.jobs.map((j) => [j.id, j.status, timestamp(j.createdAt), j.finishedAt ? timestamp(j.finishedAt) : '']))) ctx.out(line);
    return EXIT.ok;
  },
  async create(ctx, parsed) {
    const [task] = positionals(parsed, ['task'], 'schedules');
    const cron = stringOption(parsed, 'cron');
    if (!cron) throw new UsageError("schedules create needs --cron (e.g. --cron '0 2 * * *')", 'schedules');
    const catchUp = stringOption(parsed, 'catch-up')?.toUpperCase();
    if (catchUp && catchUp !== 'ONCE' && catchUp !== 'SKIP') throw new UsageError('--catch-up: once or skip', 'schedules');
    let input: unknown;
    try {
      input = JSON.parse(stringOption(parsed, 'input') ?? '{}');
    } catch (error) {
      throw new UsageError(`--input is not JSON: ${(error as Error).message}`, 'schedules');
    }
    const { createSchedule } = await ctx.api.request<CliCreateScheduleMutation>(CREATE_SCHEDULE, {
      task,
      input,
      cron,
      timezone: stringOption(parsed, 'tz'),
      name: stringOption(parsed, 'name'),
      catchUp,
    });
    return answer(ctx, createSchedule);
  },
  async pause(ctx, parsed) {
    const [ref] = positionals(parsed, ['id|name'], 'schedules');
    const { pauseSchedule } = await ctx.api.request<CliPauseScheduleMutation>(PAUSE_SCHEDULE, { id: await idOf(ctx, ref!) });
    return answer(ctx, pauseSchedule);
  },
  async resume(ctx, parsed) {
    const [ref] = positionals(parsed, ['id|name'], 'schedules');
    const { resumeSchedule } = await ctx.api.request<CliResumeScheduleMutation>(RESUME_SCHEDULE, { id: await idOf(ctx, ref!) });
    return answer(ctx, resumeSchedule);
  },
  async delete(ctx, parsed) {
    const [ref] = positionals(parsed, ['id|name'], 'schedules');
    const { deleteSchedule } = await ctx.api.request<CliDeleteScheduleMutation>(DELETE_SCHEDULE, { id: await idOf(ctx, ref!) });
    return answer(ctx, deleteSchedule);
  },
};

function row(s: View): string[] {
  return [s.id, s.name, s.task, s.cron, s.timezone, s.nextRunAt ? timestamp(s.nextRunAt) : '', s.lastRunAt ? timestamp(s.lastRunAt) : '', s.paused ? 'paused' : 'active'];
}

function answer(ctx: Context, schedule: View): number {
  if (ctx.json) ctx.out(JSON.stringify(schedule, null, 2));
  else ctx.out(`${schedule.id} ${schedule.name} ${schedule.paused ? 'paused' : `next ${schedule.nextRunAt ? timestamp(schedule.nextRunAt) : 'never'}`}`);
  return EXIT.ok;
}

/** A schedule's id, from its id or its name. */
async function idOf(ctx: Context, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref;
  const { schedules } = await ctx.api.request<CliSchedulesQuery>(LIST_SCHEDULES);
  const found = schedules.find((s) => s.name === ref);
  if (!found) throw new ApiError('graphql', `no schedule named "${ref}"`, 'SCHEDULE_NOT_FOUND');
  return found.id;
}
