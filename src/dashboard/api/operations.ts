/**
 * The GraphQL operations the dashboard sends. The shapes of their answers are generated from them
 * and schema.graphql (`npm run codegen`, graphql.generated.ts): never written by hand.
 */
import type {
  DashboardDecideGateMutation,
  DashboardDemoIdsQuery,
  DashboardReviewQuery,
  DashboardRunActionMutation,
  DashboardRunProgressSubscription,
  DashboardRunQuery,
  DashboardRunsQuery,
  DashboardStartReportTestingMutation,
  RunDetailFragment,
  DashboardCancelJobMutation,
  DashboardEnqueueMutation,
  DashboardJobEventsSubscription,
  DashboardJobProgressSubscription,
  DashboardJobQuery,
  DashboardJobsQuery,
  DashboardBulkActionMutation,
  DashboardJobUpdatesSubscription,
  DashboardMeQuery,
  DashboardQueueInfoQuery,
  DashboardThroughputQuery,
  DashboardRetryJobMutation,
  DashboardTasksQuery,
  JobDetailFragment,
  JobSummaryFragment,
} from './graphql.generated.ts';
import { withFragments } from '../../lib/graphql-text.ts';

export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'RETRYING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const PHASES = ['PLANNING', 'SCOPING', 'SAMPLE_SELECTION', 'DATA_PROFILING', 'TEST_EXECUTION'] as const;
export type Phase = (typeof PHASES)[number];
export type Role = 'viewer' | 'operator' | 'approver' | 'admin';

export const TERMINAL: ReadonlySet<JobStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
/** Statuses a cancel applies to (CANCELLING is on its way already). */
export const CANCELLABLE: ReadonlySet<JobStatus> = new Set(['QUEUED', 'RUNNING', 'RETRYING']);
/** Statuses retryJob accepts. */
export const RETRYABLE: ReadonlySet<JobStatus> = new Set(['FAILED', 'CANCELLED']);

/** A job as the dashboard's lists show it (fragment JobSummary). */
export type JobSummary = JobSummaryFragment;
/** A job as its page shows it (fragment JobDetail). */
export type JobDetail = JobDetailFragment;
export type QueueInfo = DashboardQueueInfoQuery['queueInfo'];
/** A task as the enqueue form reads it: its input schema is JSON Schema. */
export type TaskInfo = Omit<DashboardTasksQuery['tasks'][number], 'inputSchema'> & { inputSchema: JsonSchema };

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  description?: string;
}

const JOB_SUMMARY = /* GraphQL */ `fragment JobSummary on Job {
  id type phase status progress message attempt maxAttempts input tags createdBy createdAt startedAt finishedAt lastSeq
}`;
const JOB_DETAIL = withFragments(
  /* GraphQL */ `fragment JobDetail on Job { ...JobSummary backend priority result error { code message } runAt nextRetryAt concurrencyKey waitingOn }`,
  JOB_SUMMARY,
);

export const ME = /* GraphQL */ `query DashboardMe { me { name role } }`;
export type MeData = DashboardMeQuery;

export const QUEUE_INFO = /* GraphQL */ `query DashboardQueueInfo {
  queueInfo {
    backend reason queueName healthy usingFallback eventBus ledger
    probes { backend ok detail latencyMs }
    queue { waiting delayed active }
    jobCounts { status type count }
    workers { id hostname pid backend concurrency running startedAt heartbeatAt }
    retention { completed failed prunedJobs lastPrunedAt oldestJobAt }
  }
  limits {
    name description concurrency requestsUsed tokensUsed held waiting waitingSince pausedUntil pauseReason
    requests { text } tokens { text }
  }
}`;
export type QueueInfoData = DashboardQueueInfoQuery;
export type Limit = DashboardQueueInfoQuery['limits'][number];

export const JOBS = withFragments(
  /* GraphQL */ `query DashboardJobs($first: Int, $after: String, $filter: JobFilter) {
    jobs(first: $first, after: $after, filter: $filter) {
      nodes { ...JobSummary }
      pageInfo { hasNextPage endCursor }
    }
  }`,
  JOB_SUMMARY,
);
export type JobsData = DashboardJobsQuery;

/** Finished jobs for the throughput chart: only what the chart needs. */
export const THROUGHPUT = /* GraphQL */ `query DashboardThroughput($minutes: Int) {
  throughput(minutes: $minutes) { start completed failed }
}`;
export type ThroughputData = DashboardThroughputQuery;

export const JOB_UPDATES = withFragments(
  /* GraphQL */ `subscription DashboardJobUpdates($phase: Phase, $type: String) { jobUpdates(phase: $phase, type: $type) { ...JobSummary } }`,
  JOB_SUMMARY,
);
export type JobUpdatesData = DashboardJobUpdatesSubscription;

export const JOB = withFragments(/* GraphQL */ `query DashboardJob($id: ID!) { job(id: $id) { ...JobDetail } }`, JOB_DETAIL);
export type JobData = DashboardJobQuery;

export const JOB_PROGRESS = withFragments(
  /* GraphQL */ `subscription DashboardJobProgress($id: ID!, $afterSeq: Int) { jobProgress(id: $id, afterSeq: $afterSeq) { ...JobDetail } }`,
  JOB_DETAIL,
);
export type JobProgressData = DashboardJobProgressSubscription;

export const JOB_EVENTS = /* GraphQL */ `subscription DashboardJobEvents($id: ID!, $afterSeq: Int) {
  jobEvents(id: $id, afterSeq: $afterSeq) { seq at kind status progress message }
}`;
export type JobEventsData = DashboardJobEventsSubscription;
export type JobEvent = JobEventsData['jobEvents'];

export const CANCEL_JOB = withFragments(/* GraphQL */ `mutation DashboardCancelJob($id: ID!) { cancelJob(id: $id) { ...JobDetail } }`, JOB_DETAIL);
export type CancelJobData = DashboardCancelJobMutation;

export const RETRY_JOB = withFragments(/* GraphQL */ `mutation DashboardRetryJob($id: ID!) { retryJob(id: $id) { job { ...JobDetail } } }`, JOB_DETAIL);
export type RetryJobData = DashboardRetryJobMutation;

/** The job list's filter as the API takes it (jobs, cancelJobs, retryJobs). */
export type { JobFilter as JobFilterInput } from './graphql.generated.ts';

/** A bulk cancel or retry of the jobs a filter matches; a dry run first says which. */
export const BULK_ACTION = /* GraphQL */ `mutation DashboardBulkAction($filter: JobFilter!, $all: Boolean, $dryRun: Boolean, $limit: Int, $retry: Boolean!) {
  retryJobs(filter: $filter, all: $all, dryRun: $dryRun, limit: $limit) @include(if: $retry) { matched matchedIds acted ids hasMore }
  cancelJobs(filter: $filter, all: $all, dryRun: $dryRun, limit: $limit) @skip(if: $retry) { matched matchedIds acted ids hasMore }
}`;
export type BulkActionData = DashboardBulkActionMutation;

export const TASKS = /* GraphQL */ `query DashboardTasks { tasks { name phase description inputSchema maxAttempts timeoutMs } }`;
export type TasksData = { tasks: TaskInfo[] };

export const ENQUEUE_JOB = /* GraphQL */ `mutation DashboardEnqueue($type: String!, $input: JSON!, $priority: Int, $delayMs: Int) {
  enqueueJob(type: $type, input: $input, priority: $priority, delayMs: $delayMs) { job { id } deduplicated }
}`;
export type EnqueueJobData = DashboardEnqueueMutation;

// ── runs ──

export const RUN_STATUSES = ['RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const RUN_DETAIL = /* GraphQL */ `fragment RunDetail on Run {
  id workflow status progress input reason createdBy createdAt finishedAt lastSeq
  steps {
    name kind task parents status progress message attempt generation error result startedAt finishedAt dueAt
    job { id } decision { decision by at comment }
  }
}`;
export type RunDetail = RunDetailFragment;

export const RUNS = /* GraphQL */ `query DashboardRuns($first: Int, $status: [RunStatus!]) {
  runs(first: $first, status: $status) { nodes { id workflow status reason createdBy createdAt finishedAt } hasNextPage }
}`;
export type RunsData = DashboardRunsQuery;

export const RUN = withFragments(/* GraphQL */ `query DashboardRun($id: ID!) { run(id: $id) { ...RunDetail events { seq at step status message actor } } }`, RUN_DETAIL);
export type RunData = DashboardRunQuery;

export const RUN_PROGRESS = withFragments(
  /* GraphQL */ `subscription DashboardRunProgress($id: ID!, $afterSeq: Int) { runProgress(id: $id, afterSeq: $afterSeq) { seq events { seq at step status message actor } run { ...RunDetail } } }`,
  RUN_DETAIL,
);
export type RunProgressData = DashboardRunProgressSubscription;
export type RunHistoryEvent = DashboardRunProgressSubscription['runProgress']['events'][number];

export const START_REPORT_TESTING = withFragments(
  /* GraphQL */ `mutation DashboardStartReportTesting($input: StartReportTestingInput!) { startReportTesting(input: $input) { deduplicated run { ...RunDetail } } }`,
  RUN_DETAIL,
);
export type StartReportTestingData = DashboardStartReportTestingMutation;

export const DECIDE_GATE = withFragments(
  /* GraphQL */ `mutation DashboardDecideGate($runId: ID!, $step: String!, $comment: String, $approve: Boolean!) {
    approveStep(runId: $runId, step: $step, comment: $comment) @include(if: $approve) { ...RunDetail }
    rejectStep(runId: $runId, step: $step, comment: $comment) @skip(if: $approve) { ...RunDetail }
  }`,
  RUN_DETAIL,
);
export type DecideGateData = DashboardDecideGateMutation;

export const RUN_ACTION = withFragments(
  /* GraphQL */ `mutation DashboardRunAction($id: ID!, $retry: Boolean!, $cancel: Boolean!) {
    retryRun(id: $id) @include(if: $retry) { ...RunDetail }
    cancelRun(id: $id) @include(if: $cancel) { ...RunDetail }
  }`,
  RUN_DETAIL,
);
export type RunActionData = DashboardRunActionMutation;

/** What a reviewer reads before signing off: the report's attributes, mappings, scope, sample, rules and results, and the dataset's profile. */
export const REVIEW = /* GraphQL */ `query DashboardReview($reportId: ID!, $datasetId: ID!) {
  report(id: $reportId) {
    id name regulation sampleCount
    attributes { id name dataType isKey isCritical
      mappings { confidence dataElement { table column } }
      recommendation { decision riskScore rationale }
      rules { kind column severity } }
    samples(datasetId: $datasetId, first: 10) { row stratum method seed }
    testRuns { id datasetId total passed failed results(failedOnly: true, first: 50) { row attribute message passed rule { kind column severity } } }
  }
  dataset(id: $datasetId) { id name recordCount profile { rows columns createdAt } }
}`;
export type ReviewData = DashboardReviewQuery;

export const DEMO_IDS = /* GraphQL */ `query DashboardDemoIds { reports { id name } datasets { id name recordCount } }`;
export type DemoIdsData = DashboardDemoIdsQuery;
