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

export type JobViewFragment = { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null };

export type CliEnqueueJobMutationVariables = Exact<{
  type: string;
  input: unknown;
  idempotencyKey?: string | null | undefined;
  delayMs?: number | null | undefined;
  priority?: number | null | undefined;
}>;


export type CliEnqueueJobMutation = { enqueueJob: { deduplicated: boolean, job: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } } };

export type CliJobsQueryVariables = Exact<{
  first?: number | null | undefined;
  status?: Array<JobStatus> | JobStatus | null | undefined;
  type?: string | null | undefined;
}>;


export type CliJobsQuery = { jobs: { nodes: Array<{ id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null }>, pageInfo: { hasNextPage: boolean } } };

export type CliCancelJobMutationVariables = Exact<{
  id: string;
}>;


export type CliCancelJobMutation = { cancelJob: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } };

export type CliRetryJobMutationVariables = Exact<{
  id: string;
}>;


export type CliRetryJobMutation = { retryJob: { job: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } } };

export type CliTasksQueryVariables = Exact<{ [key: string]: never; }>;


export type CliTasksQuery = { tasks: Array<{ name: string, phase: Phase, mutation: string, description: string | null, maxAttempts: number | null, timeoutMs: number | null, concurrency: number | null }> };

export type CliJobProgressSubscriptionVariables = Exact<{
  id: string;
}>;


export type CliJobProgressSubscription = { jobProgress: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } };
