/**
 * The GraphQL operations of the Schedules page (beside operations.ts, which holds the jobs' and
 * runs'). Their answers' shapes are generated (`npm run codegen`, graphql.generated.ts).
 */
import type {
  DashboardCreateScheduleMutation,
  DashboardScheduleActionMutation,
  DashboardSchedulesQuery,
  ScheduleRowFragment,
} from './graphql.generated.ts';
import { withFragments } from '../../lib/graphql-text.ts';

const SCHEDULE_ROW = /* GraphQL */ `fragment ScheduleRow on Schedule {
  id name task input cron timezone catchUp source paused nextRunAt lastRunAt createdBy
  nextRuns(count: 3)
  jobs(first: 5) { id status createdAt }
}`;

export type ScheduleRow = ScheduleRowFragment;

export const SCHEDULES = withFragments(/* GraphQL */ `query DashboardSchedules { schedules { ...ScheduleRow } }`, SCHEDULE_ROW);
export type SchedulesData = DashboardSchedulesQuery;

export const CREATE_SCHEDULE = withFragments(
  /* GraphQL */ `mutation DashboardCreateSchedule($task: String!, $input: JSON!, $cron: String!, $timezone: String, $name: String, $catchUp: ScheduleCatchUp) {
    createSchedule(task: $task, input: $input, cron: $cron, timezone: $timezone, name: $name, catchUp: $catchUp) { ...ScheduleRow }
  }`,
  SCHEDULE_ROW,
);
export type CreateScheduleData = DashboardCreateScheduleMutation;

/** Pause, resume or delete: one operation, the action chosen by which field is included. */
export const SCHEDULE_ACTION = withFragments(
  /* GraphQL */ `mutation DashboardScheduleAction($id: ID!, $pause: Boolean!, $resume: Boolean!, $delete: Boolean!) {
    pauseSchedule(id: $id) @include(if: $pause) { ...ScheduleRow }
    resumeSchedule(id: $id) @include(if: $resume) { ...ScheduleRow }
    deleteSchedule(id: $id) @include(if: $delete) { id }
  }`,
  SCHEDULE_ROW,
);
export type ScheduleActionData = DashboardScheduleActionMutation;
export type ScheduleAction = 'pause' | 'resume' | 'delete';
