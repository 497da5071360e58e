/**
 * The GraphQL operations the CLI sends. The shapes of their answers are generated from them and
 * schema.graphql (`npm run codegen`, graphql.generated.ts): never written by hand.
 */
import { withFragments } from '../lib/graphql-text.ts';
import type {
  CliApproveStepMutation,
  CliCancelRunMutation,
  CliRejectStepMutation,
  CliRerunFromMutation,
  CliRetryRunMutation,
  CliRunProgressSubscription,
  CliRunQuery,
  CliRunsQuery,
  CliStartReportTestingMutation,
  CliCancelJobMutation,
  CliCancelJobsMutation,
  CliRetryJobsMutation,
  CliEnqueueJobMutation,
  CliJobProgressSubscription,
  CliJobsQuery,
  CliRetryJobMutation,
  CliTasksQuery,
  JobViewFragment,
} from './graphql.generated.ts';

/** The Job fields every command shows (display.ts); a list leaves out the result. */
export type JobView = Omit<JobViewFragment, 'result'> & { result?: unknown };

const JOB_VIEW = /* GraphQL */ `fragment JobView on Job {
  id type phase status progress message attempt maxAttempts result error { code message } createdBy tags createdAt startedAt finishedAt nextRetryAt
}`;

export const ENQUEUE_JOB = withFragments(
  /* GraphQL */ `mutation CliEnqueueJob($type: String!, $input: JSON!, $idempotencyKey: String, $delayMs: Int, $priority: Int, $tags: [String!]) {
    enqueueJob(type: $type, input: $input, idempotencyKey: $idempotencyKey, delayMs: $delayMs, priority: $priority, tags: $tags) {
      deduplicated
      job { ...JobView }
    }
  }`,
  JOB_VIEW,
);
export type EnqueueJobData = CliEnqueueJobMutation;

export const LIST_JOBS = /* GraphQL */ `query CliJobs($first: Int, $filter: JobFilter) {
  jobs(first: $first, filter: $filter) {
    nodes { id type phase status progress message attempt maxAttempts error { code message } createdBy tags createdAt startedAt finishedAt nextRetryAt }
    pageInfo { hasNextPage }
  }
}`;
export type JobsData = CliJobsQuery;

export const CANCEL_JOB = withFragments(/* GraphQL */ `mutation CliCancelJob($id: ID!) { cancelJob(id: $id) { ...JobView } }`, JOB_VIEW);
export type CancelJobData = CliCancelJobMutation;

export const RETRY_JOB = withFragments(/* GraphQL */ `mutation CliRetryJob($id: ID!) { retryJob(id: $id) { job { ...JobView } } }`, JOB_VIEW);
export type RetryJobData = CliRetryJobMutation;

/** A bulk cancel or retry: the batch it matched, what it changed, whether more match. */
export const CANCEL_JOBS = /* GraphQL */ `mutation CliCancelJobs($filter: JobFilter!, $limit: Int, $all: Boolean, $dryRun: Boolean) {
  cancelJobs(filter: $filter, limit: $limit, all: $all, dryRun: $dryRun) { matched matchedIds acted ids hasMore dryRun }
}`;
export type CancelJobsData = CliCancelJobsMutation;

export const RETRY_JOBS = /* GraphQL */ `mutation CliRetryJobs($filter: JobFilter!, $limit: Int, $all: Boolean, $dryRun: Boolean) {
  retryJobs(filter: $filter, limit: $limit, all: $all, dryRun: $dryRun) { matched matchedIds acted ids hasMore dryRun }
}`;
export type RetryJobsData = CliRetryJobsMutation;
export type BulkAnswer = CliCancelJobsMutation['cancelJobs'];
/** The filter a bulk command sends (the schema's JobFilter input). */
export type { JobFilter as JobFilterInput } from './graphql.generated.ts';

export const LIST_TASKS = /* GraphQL */ `query CliTasks { tasks { name phase mutation description maxAttempts timeoutMs concurrency } }`;
export type TasksData = CliTasksQuery;

export const JOB_PROGRESS = withFragments(/* GraphQL */ `subscription CliJobProgress($id: ID!) { jobProgress(id: $id) { ...JobView } }`, JOB_VIEW);
export type JobProgressData = CliJobProgressSubscription;

// ── runs ──

const RUN_VIEW = /* GraphQL */ `fragment RunView on Run {
  id workflow status progress reason createdBy createdAt finishedAt lastSeq
  steps { name kind status progress message attempt generation error dueAt decision { decision by at comment } }
}`;

export type { RunViewFragment as RunView } from './graphql.generated.ts';

export const START_REPORT_TESTING = withFragments(
  /* GraphQL */ `mutation CliStartReportTesting($input: StartReportTestingInput!, $idempotencyKey: String) {
    startReportTesting(input: $input, idempotencyKey: $idempotencyKey) { deduplicated run { ...RunView } }
  }`,
  RUN_VIEW,
);
export type StartReportTestingData = CliStartReportTestingMutation;

export const SHOW_RUN = withFragments(/* GraphQL */ `query CliRun($id: ID!) { run(id: $id) { ...RunView } }`, RUN_VIEW);
export type ShowRunData = CliRunQuery;

export const LIST_RUNS = /* GraphQL */ `query CliRuns($first: Int, $status: [RunStatus!]) {
  runs(first: $first, status: $status) { nodes { id workflow status reason createdBy createdAt finishedAt } hasNextPage }
}`;
export type ListRunsData = CliRunsQuery;

export const APPROVE_STEP = withFragments(
  /* GraphQL */ `mutation CliApproveStep($runId: ID!, $step: String!, $comment: String) { approveStep(runId: $runId, step: $step, comment: $comment) { ...RunView } }`,
  RUN_VIEW,
);
export type ApproveStepData = CliApproveStepMutation;

export const REJECT_STEP = withFragments(
  /* GraphQL */ `mutation CliRejectStep($runId: ID!, $step: String!, $comment: String) { rejectStep(runId: $runId, step: $step, comment: $comment) { ...RunView } }`,
  RUN_VIEW,
);
export type RejectStepData = CliRejectStepMutation;

export const RETRY_RUN = withFragments(/* GraphQL */ `mutation CliRetryRun($id: ID!) { retryRun(id: $id) { ...RunView } }`, RUN_VIEW);
export type RetryRunData = CliRetryRunMutation;

export const RERUN_FROM = withFragments(
  /* GraphQL */ `mutation CliRerunFrom($runId: ID!, $step: String!) { rerunFrom(runId: $runId, step: $step) { ...RunView } }`,
  RUN_VIEW,
);
export type RerunFromData = CliRerunFromMutation;

export const CANCEL_RUN = withFragments(/* GraphQL */ `mutation CliCancelRun($id: ID!) { cancelRun(id: $id) { ...RunView } }`, RUN_VIEW);
export type CancelRunData = CliCancelRunMutation;

export const RUN_PROGRESS = withFragments(
  /* GraphQL */ `subscription CliRunProgress($id: ID!, $afterSeq: Int) { runProgress(id: $id, afterSeq: $afterSeq) { seq events { seq step status message actor } run { ...RunView } } }`,
  RUN_VIEW,
);
export type RunProgressData = CliRunProgressSubscription;
