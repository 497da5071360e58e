/**
 * Schedules over GraphQL: what recurs (cron in a time zone), its next ticks and the jobs its ticks
 * made; operators create, pause, resume and delete them. Schedules defined in code are written at
 * startup: they may be paused, not deleted (the next start would write them again).
 */
import { GraphQLError } from 'graphql';
import { InvalidInputError } from '../../jobs/errors.ts';
import type { Schedule } from '../../jobs/schedules/schedules.ts';
import { CATCH_UP_POLICIES } from '../../jobs/schedules/definition.ts';
import { describeIssues } from '../../lib/issues.ts';
import { canSee, requireRole, requireViewer } from '../auth.ts';
import { builder } from './builder.ts';
import { JobRef } from './jobs.ts';

const CatchUpEnum = builder.enumType('ScheduleCatchUp', { values: CATCH_UP_POLICIES.map((p) => p.toUpperCase() as Uppercase<typeof p>) });
const MAX_NEXT = 50;
const MAX_JOBS = 100;

const ScheduleRef = builder.objectRef<Schedule>('Schedule').implement({
  description:
    'A recurring job: `cron` read in `timezone`. Each tick makes one job (its idempotency key is the schedule and the tick), however many processes run.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    task: t.exposeString('task'),
    input: t.expose('input', { type: 'JSON' }),
    cron: t.exposeString('cron', { description: 'Five fields (minute hour day month weekday), or six with seconds first.' }),
    timezone: t.exposeString('timezone', { description: 'IANA time zone the cron is read in.' }),
    catchUp: t.field({ type: CatchUpEnum, description: 'Ticks missed while nothing ran: ONCE makes one job for the latest, SKIP none.', resolve: (s) => s.catchUp.toUpperCase() as 'ONCE' | 'SKIP' }),
    source: t.string({ description: '"code" (defineSchedule) or "api" (createSchedule).', resolve: (s) => s.source }),
    paused: t.exposeBoolean('paused'),
    nextRunAt: t.expose('nextRunAt', { type: 'DateTime', nullable: true, description: 'Its next tick; null while paused makes none.' }),
    nextRuns: t.field({
      type: ['DateTime'],
      args: { count: t.arg.int({ defaultValue: 5 }) },
      description: `Its next ticks (at most ${MAX_NEXT}); none while paused.`,
      resolve: (s, { count }, ctx) => ctx.system.schedules.nextTicks(s, Math.min(MAX_NEXT, Math.max(0, count ?? 5))),
    }),
    lastRunAt: t.expose('lastRunAt', { type: 'DateTime', nullable: true, description: 'The last tick that made a job.' }),
    lastJob: t.field({
      type: JobRef,
      nullable: true,
      resolve: async (s, _, ctx) => {
        if (!s.lastJobId) return null;
        const job = await ctx.system.getJob(s.lastJobId);
        return job && canSee(requireViewer(ctx.viewer), job) ? job : null;
      },
    }),
    jobs: t.field({
      type: [JobRef],
      args: { first: t.arg.int({ defaultValue: 20 }) },
      description: `The jobs its ticks made, newest first (at most ${MAX_JOBS}; those the caller may see).`,
      resolve: async (s, { first }, ctx) => {
        const viewer = requireViewer(ctx.viewer);
        const jobs = await ctx.system.schedules.jobs(s.id, Math.min(MAX_JOBS, Math.max(1, first ?? 20)));
        return jobs.filter((job) => canSee(viewer, job));
      },
    }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  schedules: t.field({
    type: [ScheduleRef],
    description: 'Every schedule, by name.',
    resolve: (_, __, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.system.schedules.list();
    },
  }),
  schedule: t.field({
    type: ScheduleRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.system.schedules.get(String(id));
    },
  }),
}));

builder.mutationFields((t) => ({
  createSchedule: t.field({
    type: ScheduleRef,
    description: "Makes a schedule (operator): the task's input is checked now, as an enqueue would check it.",
    args: {
      task: t.arg.string({ required: true }),
      input: t.arg({ type: 'JSON', required: true }),
      cron: t.arg.string({ required: true }),
      timezone: t.arg.string({ defaultValue: 'UTC' }),
      name: t.arg.string(),
      catchUp: t.arg({ type: CatchUpEnum, defaultValue: 'ONCE' }),
    },
    resolve: async (_, args, ctx) => {
      const viewer = requireRole(ctx.viewer, 'operator');
      try {
        return await ctx.system.schedules.create({
          task: args.task,
          input: args.input,
          cron: args.cron,
          timezone: args.timezone ?? 'UTC',
          name: args.name ?? null,
          catchUp: (args.catchUp ?? 'ONCE').toLowerCase() as 'once' | 'skip',
          createdBy: viewer.name,
        });
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
        const issues = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
        throw new GraphQLError(`Invalid schedule: ${describeIssues(error.issues)}`, {
          extensions: { code: 'BAD_USER_INPUT', field: issues[0]?.path, issues },
        });
      }
    },
  }),
  pauseSchedule: t.field({
    type: ScheduleRef,
    description: 'Stops its ticks until resumed (operator).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => {
      requireRole(ctx.viewer, 'operator');
      return ctx.system.schedules.pause(String(id));
    },
  }),
  resumeSchedule: t.field({
    type: ScheduleRef,
    description: 'Goes on from the first tick after now (operator): ticks that fell in the pause are not made up.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => {
      requireRole(ctx.viewer, 'operator');
      return ctx.system.schedules.resume(String(id));
    },
  }),
  deleteSchedule: t.field({
    type: ScheduleRef,
    description: 'Removes a schedule made over the API (operator); its jobs stay. One defined in code can be paused, not deleted.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      requireRole(ctx.viewer, 'operator');
      const schedule = await ctx.system.schedules.get(String(id));
      if (schedule.source === 'code') {
        throw new GraphQLError(`Schedule "${schedule.name}" is defined in code: pause it, or remove it from the code`, {
          extensions: { code: 'SCHEDULE_IN_CODE' },
        });
      }
      return ctx.system.schedules.delete(String(id));
    },
  }),
}));
