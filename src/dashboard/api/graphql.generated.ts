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

export type RuleKind =
  | 'ALLOWED_VALUES'
  | 'MAX_LENGTH'
  | 'NOT_NULL'
  | 'PATTERN'
  | 'RANGE'
  | 'UNIQUE';

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

export type ScopeDecision =
  | 'IN_SCOPE'
  | 'OUT_OF_SCOPE';

export type Severity =
  | 'HIGH'
  | 'LOW'
  | 'MEDIUM';

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

export type JobSummaryFragment = { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number };

export type JobDetailFragment = { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, concurrencyKey: string | null, waitingOn: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null };

export type DashboardMeQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardMeQuery = { me: { name: string, role: Role } };

export type DashboardQueueInfoQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardQueueInfoQuery = { queueInfo: { backend: string, reason: string, queueName: string, healthy: boolean, usingFallback: boolean, eventBus: string, ledger: string, probes: Array<{ backend: string, ok: boolean, detail: string, latencyMs: number }>, queue: { waiting: number, delayed: number, active: number } | null, jobCounts: Array<{ status: JobStatus, type: string, count: number }>, workers: Array<{ id: string, hostname: string, pid: number, backend: string, concurrency: number, running: number, startedAt: string, heartbeatAt: string }>, retention: { completed: string, failed: string, prunedJobs: number, lastPrunedAt: string | null, oldestJobAt: string | null } }, limits: Array<{ name: string, description: string | null, concurrency: number | null, requestsUsed: number, tokensUsed: number, held: number, waiting: number, waitingSince: string | null, pausedUntil: string | null, pauseReason: string | null, requests: { text: string } | null, tokens: { text: string } | null }> };

export type DashboardJobsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  filter?: JobFilter | null | undefined;
}>;


export type DashboardJobsQuery = { jobs: { nodes: Array<{ id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashboardThroughputQueryVariables = Exact<{
  minutes?: number | null | undefined;
}>;


export type DashboardThroughputQuery = { throughput: Array<{ start: string, completed: number, failed: number }> };

export type DashboardJobUpdatesSubscriptionVariables = Exact<{
  phase?: Phase | null | undefined;
  type?: string | null | undefined;
}>;


export type DashboardJobUpdatesSubscription = { jobUpdates: { id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number } };

export type DashboardJobQueryVariables = Exact<{
  id: string;
}>;


export type DashboardJobQuery = { job: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, concurrencyKey: string | null, waitingOn: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } | null };

export type DashboardJobProgressSubscriptionVariables = Exact<{
  id: string;
  afterSeq?: number | null | undefined;
}>;


export type DashboardJobProgressSubscription = { jobProgress: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, concurrencyKey: string | null, waitingOn: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } };

export type DashboardJobEventsSubscriptionVariables = Exact<{
  id: string;
  afterSeq?: number | null | undefined;
}>;


export type DashboardJobEventsSubscription = { jobEvents: { seq: number, at: string, kind: string, status: JobStatus, progress: number, message: string | null } };

export type DashboardCancelJobMutationVariables = Exact<{
  id: string;
}>;


export type DashboardCancelJobMutation = { cancelJob: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, concurrencyKey: string | null, waitingOn: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } };

export type DashboardRetryJobMutationVariables = Exact<{
  id: string;
}>;


export type DashboardRetryJobMutation = { retryJob: { job: { backend: QueueBackend, priority: number, result: unknown, runAt: string, nextRetryAt: string | null, concurrencyKey: string | null, waitingOn: string | null, id: string, type: string, phase: Phase, status: JobStatus, progress: number, message: string | null, attempt: number, maxAttempts: number, input: unknown, tags: Array<string>, createdBy: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, lastSeq: number, error: { code: string, message: string } | null } } };

export type DashboardBulkActionMutationVariables = Exact<{
  filter: JobFilter;
  all?: boolean | null | undefined;
  dryRun?: boolean | null | undefined;
  limit?: number | null | undefined;
  retry: boolean;
}>;


export type DashboardBulkActionMutation = { retryJobs?: { matched: number, matchedIds: Array<string>, acted: number, ids: Array<string>, hasMore: boolean }, cancelJobs?: { matched: number, matchedIds: Array<string>, acted: number, ids: Array<string>, hasMore: boolean } };

export type DashboardTasksQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardTasksQuery = { tasks: Array<{ name: string, phase: Phase, description: string | null, inputSchema: unknown, maxAttempts: number | null, timeoutMs: number | null }> };

export type DashboardEnqueueMutationVariables = Exact<{
  type: string;
  input: unknown;
  priority?: number | null | undefined;
  delayMs?: number | null | undefined;
}>;


export type DashboardEnqueueMutation = { enqueueJob: { deduplicated: boolean, job: { id: string } } };

export type RunDetailFragment = { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> };

export type DashboardRunsQueryVariables = Exact<{
  first?: number | null | undefined;
  status?: Array<RunStatus> | RunStatus | null | undefined;
}>;


export type DashboardRunsQuery = { runs: { hasNextPage: boolean, nodes: Array<{ id: string, workflow: string, status: RunStatus, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null }> } };

export type DashboardRunQueryVariables = Exact<{
  id: string;
}>;


export type DashboardRunQuery = { run: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, events: Array<{ seq: number, at: string, step: string | null, status: string, message: string | null, actor: string | null }>, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } | null };

export type DashboardRunProgressSubscriptionVariables = Exact<{
  id: string;
  afterSeq?: number | null | undefined;
}>;


export type DashboardRunProgressSubscription = { runProgress: { seq: number, events: Array<{ seq: number, at: string, step: string | null, status: string, message: string | null, actor: string | null }>, run: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } } };

export type DashboardStartReportTestingMutationVariables = Exact<{
  input: StartReportTestingInput;
}>;


export type DashboardStartReportTestingMutation = { startReportTesting: { deduplicated: boolean, run: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } } };

export type DashboardDecideGateMutationVariables = Exact<{
  runId: string;
  step: string;
  comment?: string | null | undefined;
  approve: boolean;
}>;


export type DashboardDecideGateMutation = { approveStep?: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> }, rejectStep?: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type DashboardRunActionMutationVariables = Exact<{
  id: string;
  retry: boolean;
  cancel: boolean;
}>;


export type DashboardRunActionMutation = { retryRun?: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> }, cancelRun?: { id: string, workflow: string, status: RunStatus, progress: number, input: unknown, reason: string | null, createdBy: string | null, createdAt: string, finishedAt: string | null, lastSeq: number, steps: Array<{ name: string, kind: StepKind, task: string | null, parents: Array<string>, status: StepStatus, progress: number, message: string | null, attempt: number | null, generation: number, error: string | null, result: unknown, startedAt: string | null, finishedAt: string | null, dueAt: string | null, job: { id: string } | null, decision: { decision: string, by: string | null, at: string, comment: string | null } | null }> } };

export type DashboardReviewQueryVariables = Exact<{
  reportId: string;
  datasetId: string;
}>;


export type DashboardReviewQuery = { report: { id: string, name: string, regulation: string, sampleCount: number, attributes: Array<{ id: string, name: string, dataType: string, isKey: boolean, isCritical: boolean, mappings: Array<{ confidence: number, dataElement: { table: string, column: string } }>, recommendation: { decision: ScopeDecision, riskScore: number, rationale: string } | null, rules: Array<{ kind: RuleKind, column: string | null, severity: Severity }> }>, samples: Array<{ row: number, stratum: string | null, method: SampleMethod, seed: number }>, testRuns: Array<{ id: string, datasetId: string, total: number, passed: number, failed: number, results: Array<{ row: number, attribute: string, message: string | null, passed: boolean, rule: { kind: RuleKind, column: string | null, severity: Severity } }> }> } | null, dataset: { id: string, name: string, recordCount: number, profile: { rows: number, columns: unknown, createdAt: string } | null } | null };

export type DashboardDemoIdsQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardDemoIdsQuery = { reports: Array<{ id: string, name: string }>, datasets: Array<{ id: string, name: string, recordCount: number }> };

export type ScheduleRowFragment = { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null, nextRuns: Array<string>, jobs: Array<{ id: string, status: JobStatus, createdAt: string }> };

export type DashboardSchedulesQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardSchedulesQuery = { schedules: Array<{ id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null, nextRuns: Array<string>, jobs: Array<{ id: string, status: JobStatus, createdAt: string }> }> };

export type DashboardCreateScheduleMutationVariables = Exact<{
  task: string;
  input: unknown;
  cron: string;
  timezone?: string | null | undefined;
  name?: string | null | undefined;
  catchUp?: ScheduleCatchUp | null | undefined;
}>;


export type DashboardCreateScheduleMutation = { createSchedule: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null, nextRuns: Array<string>, jobs: Array<{ id: string, status: JobStatus, createdAt: string }> } };

export type DashboardScheduleActionMutationVariables = Exact<{
  id: string;
  pause: boolean;
  resume: boolean;
  delete: boolean;
}>;


export type DashboardScheduleActionMutation = { pauseSchedule?: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null, nextRuns: Array<string>, jobs: Array<{ id: string, status: JobStatus, createdAt: string }> }, resumeSchedule?: { id: string, name: string, task: string, input: unknown, cron: string, timezone: string, catchUp: ScheduleCatchUp, source: string, paused: boolean, nextRunAt: string | null, lastRunAt: string | null, createdBy: string | null, nextRuns: Array<string>, jobs: Array<{ id: string, status: JobStatus, createdAt: string }> }, deleteSchedule?: { id: string } };
