/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** Which jobs: every field given narrows (AND). A bulk action (cancelJobs, retryJobs) needs ids, type, phase, tags or input, or `all: true`: status and a time range alone mean every job of those statuses. */
export type JobFilter = {
  /** Created at or after this instant. */
  createdAfter?: string | null | undefined;
  /** Created before this instant. */
  createdBefore?: string | null | undefined;
  /** Only these jobs (at most 1000). */
  ids?: Array<string> | null | undefined;
  /** Jobs whose input contains this JSON object: {"reportId": "…"} finds every job of that report (indexed). */
  input?: unknown;
  phase?: Phase | null | undefined;
  status?: Array<JobStatus> | null | undefined;
  /** Jobs that carry every one of these tags (e.g. report:<id>). */
  tags?: Array<string> | null | undefined;
  /** The task. */
  type?: string | null | undefined;
};

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

export type RunStatus =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'RUNNING'
  | 'WAITING';

export type SampleMethod =
  | 'RANDOM'
  | 'RISK_BASED'
  | 'STRATIFIED';

export type SamplingInput = {
  method: SampleMethod;
  /** The same seed and data give the same sample (default 1). */
  seed?: number | null | undefined;
  size: number;
};

export type ScheduleCatchUp =
  | 'ONCE'
  | 'SKIP';

export type StartReportTestingInput = {
  datasetId: string;
  reportId: string;
  sampling: SamplingInput;
};

export type StepKind =
  | 'GATE'
  | 'TASK';

export type StepStatus =
  | 'ACTIVE'
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'PENDING'
  | 'REJECTED'
  | 'WAITING';

export type JobViewFragment = { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, tags: Array<string>, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null };

export type CliEnqueueJobMutationVariables = Exact<{
  type: string;
  input: unknown;
  idempotencyKey?: string | null | undefined;
  delayMs?: number | null | undefined;
  priority?: number | null | undefined;
  tags?: Array<string> | string | null | undefined;
}>;


export type CliEnqueueJobMutation = { enqueueJob: { deduplicated: boolean, job: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, tags: Array<string>, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } } };

export type CliJobsQueryVariables = Exact<{
  first?: number | null | undefined;
  filter?: JobFilter | null | undefined;
}>;


export type CliJobsQuery = { jobs: { nodes: Array<{ id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, createdBy: string | null, tags: Array<string>, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null }>, pageInfo: { hasNextPage: boolean } } };

export type CliCancelJobMutationVariables = Exact<{
  id: string;
}>;


export type CliCancelJobMutation = { cancelJob: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, tags: Array<string>, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } };

export type CliRetryJobMutationVariables = Exact<{
  id: string;
}>;


export type CliRetryJobMutation = { retryJob: { job: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, tags: Array<string>, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } } };

export type CliCancelJobsMutationVariables = Exact<{
  filter: JobFilter;
  limit?: number | null | undefined;
  all?: boolean | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type CliCancelJobsMutation = { cancelJobs: { matched: number, matchedIds: Array<string>, acted: number, ids: Array<string>, hasMore: boolean, dryRun: boolean } };

export type CliRetryJobsMutationVariables = Exact<{
  filter: JobFilter;
  limit?: number | null | undefined;
  all?: boolean | null | undefined;
  dryRun?: boolean | null | undefined;
}>;


export type CliRetryJobsMutation = { retryJobs: { matched: number, matchedIds: Array<string>, acted: number, ids: Array<string>, hasMore: boolean, dryRun: boolean } };

export type CliTasksQueryVariables = Exact<{ [key: string]: never; }>;


export type CliTasksQuery = { tasks: Array<{ name: string, phase: Phase, mutation: string, description: string | null, maxAttempts: number | null, timeoutMs: number | null, concurrency: number | null }> };

export type CliJobProgressSubscriptionVariables = Exact<{
  id: string;
}>;


export type CliJobProgressSubscription = { jobProgress: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, result: unknown, createdBy: string | null, tags: Array<string>, createdAt: string, startedAt: string | null, finishedAt: string | null, nextRetryAt: string | null, error: { code: string, message: string } | null } };

export type RunViewFragment = { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> };

export type CliStartReportTestingMutationVariables = Exact<{
  input: StartReportTestingInput;
  idempotencyKey?: string | null | undefined;
}>;


export type CliStartReportTestingMutation = { startReportTesting: { deduplicated: boolean, run: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } } };

export type CliRunQueryVariables = Exact<{
  id: string;
}>;


export type CliRunQuery = { run: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } | null };

export type CliRunsQueryVariables = Exact<{
  first?: number | null | undefined;
  status?: Array<RunStatus> | RunStatus | null | undefined;
}>;


export type CliRunsQuery = { runs: { hasNextPage: boolean, nodes: Array<{ id: string, workflow: string, status: RunStatus, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null }> } };

export type CliApproveStepMutationVariables = Exact<{
  runId: string;
  step: string;
  comment?: string | null | undefined;
}>;


export type CliApproveStepMutation = { approveStep: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type CliRejectStepMutationVariables = Exact<{
  runId: string;
  step: string;
  comment?: string | null | undefined;
}>;


export type CliRejectStepMutation = { rejectStep: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type CliRetryRunMutationVariables = Exact<{
  id: string;
}>;


export type CliRetryRunMutation = { retryRun: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type CliRerunFromMutationVariables = Exact<{
  runId: string;
  step: string;
}>;


export type CliRerunFromMutation = { rerunFrom: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type CliCancelRunMutationVariables = Exact<{
  id: string;
}>;


export type CliCancelRunMutation = { cancelRun: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type CliRunProgressSubscriptionVariables = Exact<{
  id: string;
  afterSeq?: number | null | undefined;
}>;


export type CliRunProgressSubscription = { runProgress: { seq: number, events: Array<{ seq: number, step: string | null, status: string, message: string | null, actor: string | null }>, run: { id: string, workflow: string, status: RunStatus, progress: number, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, dueAt: string | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } } };

export type ScheduleViewFragment = { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null };

export type CliSchedulesQueryVariables = Exact<{ [key: string]: never; }>;


export type CliSchedulesQuery = { schedules: Array<{ id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null }> };

export type CliScheduleQueryVariables = Exact<{
  id: string;
}>;


export type CliScheduleQuery = { schedule: { nextRuns: Array<string>, id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null, jobs: Array<{ id: string, status: JobStatus, createdAt: string, finishedAt: string | null }> } };

export type CliCreateScheduleMutationVariables = Exact<{
  task: string;
  input: unknown;
  cron: string;
  timezone?: string | null | undefined;
  name?: string | null | undefined;
  catchUp?: ScheduleCatchUp | null | undefined;
}>;


export type CliCreateScheduleMutation = { createSchedule: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null } };

export type CliPauseScheduleMutationVariables = Exact<{
  id: string;
}>;


export type CliPauseScheduleMutation = { pauseSchedule: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null } };

export type CliResumeScheduleMutationVariables = Exact<{
  id: string;
}>;


export type CliResumeScheduleMutation = { resumeSchedule: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null } };

export type CliDeleteScheduleMutationVariables = Exact<{
  id: string;
}>;


export type CliDeleteScheduleMutation = { deleteSchedule: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null } };
