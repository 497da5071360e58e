/**
 * The GraphQL operations the CLI sends. The shapes of their answers are generated from them and
 * schema.graphql (`npm run codegen`, graphql.generated.ts): never written by hand.
 */
import { withFragments } from '../lib/graphql-text.ts';
import type {
  CliCancelJobMutation,
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
  id type phase status progress message attempt maxAttempts result error { code message } createdBy createdAt startedAt finishedAt nextRetryAt
}`;

export const ENQUEUE_JOB = withFragments(
  /* GraphQL */ `mutation CliEnqueueJob($type: String!, $input: JSON!, $idempotencyKey: String, $delayMs: Int, $priority: Int) {
    enqueueJob(type: $type, input: $input, idempotencyKey: $idempotencyKey, delayMs: $delayMs, priority: $priority) {
      deduplicated
      job { ...JobView }
    }
  }`,
  JOB_VIEW,
);
export type EnqueueJobData = CliEnqueueJobMutation;

export const LIST_JOBS = /* GraphQL */ `query CliJobs($first: Int, $status: [JobStatus!], $type: String) {
  jobs(first: $first, status: $status, type: $type) {
    nodes { id type phase status progress message attempt maxAttempts error { code message } createdBy createdAt startedAt finishedAt nextRetryAt }
    pageInfo { hasNextPage }
  }
}`;
export type JobsData = CliJobsQuery;

export const CANCEL_JOB = withFragments(/* GraphQL */ `mutation CliCancelJob($id: ID!) { cancelJob(id: $id) { ...JobView } }`, JOB_VIEW);
export type CancelJobData = CliCancelJobMutation;

export const RETRY_JOB = withFragments(/* GraphQL */ `mutation CliRetryJob($id: ID!) { retryJob(id: $id) { job { ...JobView } } }`, JOB_VIEW);
export type RetryJobData = CliRetryJobMutation;

export const LIST_TASKS = /* GraphQL */ `query CliTasks { tasks { name phase mutation description maxAttempts timeoutMs concurrency } }`;
export type TasksData = CliTasksQuery;

export const JOB_PROGRESS = withFragments(/* GraphQL */ `subscription CliJobProgress($id: ID!) { jobProgress(id: $id) { ...JobView } }`, JOB_VIEW);
export type JobProgressData = CliJobProgressSubscription;
