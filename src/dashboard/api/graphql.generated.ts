/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
export type JobStatus =
  | 'CANCELLED'
  | 'CANCELLING'
  | 'COMPLETED'
  | 'FAILED'
  | 'QUEUED'
  | 'RETRYING'
  | 'RUNNING';

export type Phase =
  | 'DATA_PROFILING'
  | 'PLANNING'
  | 'SAMPLE_SELECTION'
  | 'SCOPING'
  | 'TEST_EXECUTION';

export type QueueBackend =
  | 'BULLMQ'
  | 'INLINE'
  | 'PGBOSS'
  | 'RABBITMQ';

export type Role =
  | 'admin'
  | 'approver'
  | 'operator'
  | 'viewer';

export type JobSummaryFragment = { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number };

export type JobDetailFragment = { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null };

export type DashboardMeQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardMeQuery = { me: { name: string, role: Role } };

export type DashboardQueueInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardQueueInfoQuery = { queueInfo: { backend: string, reason: string, queueName: string, healthy: boolean, usingFallback: boolean, eventBus: string, ledger: string, probes: Array<{ backend: string, ok: boolean, detail: string, latencyMs: number }>, queue: { waiting: number, delayed: number, active: number } | null, jobCounts: Array<{ status: JobStatus, type: string, count: number }>, workers: Array<{ id: string, hostname: string, pid: number, backend: string, concurrency: number, running: number, startedAt: string, heartbeatAt: string }>, retention: { completed: string, failed: string, prunedJobs: number, lastPrunedAt: string | null, oldestJobAt: string | null } } };

export type DashboardJobsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  status?: Array<JobStatus> | JobStatus | null | undefined;
  type?: string | null | undefined;
  phase?: Phase | null | undefined;
}>;


export type DashboardJobsQuery = { jobs: { nodes: Array<{ id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashboardThroughputQueryVariables = Exact<{
  minutes?: number | null | undefined;
}>;


export type DashboardThroughputQuery = { throughput: Array<{ start: string, completed: number, failed: number }> };

export type DashboardJobUpdatesSubscriptionVariables = Exact<{
  phase?: Phase | null | undefined;
  type?: string | null | undefined;
}>;


export type DashboardJobUpdatesSubscription = { jobUpdates: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number } };

export type DashboardJobQueryVariables = Exact<{
  id: string;
}>;


export type DashboardJobQuery = { job: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } | null };

export type DashboardJobProgressSubscriptionVariables = Exact<{
  id: string;
  afterSeq?: number | null | undefined;
}>;


export type DashboardJobProgressSubscription = { jobProgress: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } };

export type DashboardJobEventsSubscriptionVariables = Exact<{
  id: string;
  afterSeq?: number | null | undefined;
}>;


export type DashboardJobEventsSubscription = { jobEvents: { seq: number, at: string, kind: string, status: JobStatus, progress: number, message: string | null } };

export type DashboardCancelJobMutationVariables = Exact<{
  id: string;
}>;


export type DashboardCancelJobMutation = { cancelJob: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } };

export type DashboardRetryJobMutationVariables = Exact<{
  id: string;
}>;


export type DashboardRetryJobMutation = { retryJob: { job: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } } };

export type DashboardTasksQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardTasksQuery = { tasks: Array<{ name: string, phase: Phase, description: string | null, inputSchema: unknown, maxAttempts: number | null, timeoutMs: number | null }> };

export type DashboardEnqueueMutationVariables = Exact<{
  type: string;
  input: unknown;
  priority?: number | null | undefined;
  delayMs?: number | null | undefined;
}>;


export type DashboardEnqueueMutation = { enqueueJob: { deduplicated: boolean, job: { id: string } } };
