/**
 * The GraphQL operations the dashboard sends, with the shapes of their answers (schema.graphql at
 * the repo root is the contract; these types are the subset the dashboard selects).
 */

export const JOB_STATUSES = ['QUEUED', 'RUNNING', 'RETRYING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const PHASES = ['PLANNING', 'SCOPING', 'SAMPLE_SELECTION', 'DATA_PROFILING', 'TEST_EXECUTION'] as const;
export type Phase = (typeof PHASES)[number];
export type Role = 'viewer' | 'operator' | 'admin';

export const TERMINAL: ReadonlySet<JobStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
/** Statuses a cancel applies to (CANCELLING is on its way already). */
export const CANCELLABLE: ReadonlySet<JobStatus> = new Set(['QUEUED', 'RUNNING', 'RETRYING']);
/** Statuses retryJob accepts. */
export const RETRYABLE: ReadonlySet<JobStatus> = new Set(['FAILED', 'CANCELLED']);

export interface JobSummary {
  id: string;
  type: string;
  phase: Phase;
  status: JobStatus;
  progress: number;
  message: string | null;
  attempt: number;
  maxAttempts: number;
  input: unknown;
  createdBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastSeq: number;
}

export interface JobDetail extends JobSummary {
  backend: string;
  priority: number;
  result: unknown;
  error: { code: string; message: string } | null;
  runAt: string;
  nextRetryAt: string | null;
}

export interface JobEvent {
  seq: number;
  at: string;
  /** STATUS, PROGRESS, LOG or ATTEMPT */
  kind: string;
  status: JobStatus;
  progress: number;
  message: string | null;
}

export interface QueueInfo {
  backend: string;
  reason: string;
  queueName: string;
  probes: { backend: string; ok: boolean; detail: string; latencyMs: number }[];
  healthy: boolean;
  usingFallback: boolean;
  eventBus: string;
  ledger: string;
  queue: { waiting: number; delayed: number; active: number } | null;
  jobCounts: { status: JobStatus; type: string; count: number }[];
  workers: { id: string; hostname: string; pid: number; backend: string; concurrency: number; running: number; startedAt: string; heartbeatAt: string }[];
}

export interface TaskInfo {
  name: string;
  phase: Phase;
  description: string | null;
  inputSchema: JsonSchema;
  maxAttempts: number | null;
  timeoutMs: number | null;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  description?: string;
}

const SUMMARY = 'id type phase status progress message attempt maxAttempts input createdBy createdAt startedAt finishedAt lastSeq';
const DETAIL = `${SUMMARY} backend priority result error { code message } runAt nextRetryAt`;

export const ME = /* GraphQL */ `query DashboardMe { me { name role } }`;
export type MeData = { me: { name: string; role: Role } };

export const QUEUE_INFO = /* GraphQL */ `query DashboardQueueInfo {
  queueInfo {
    backend reason queueName healthy usingFallback eventBus ledger
    probes { backend ok detail latencyMs }
    queue { waiting delayed active }
    jobCounts { status type count }
    workers { id hostname pid backend concurrency running startedAt heartbeatAt }
  }
}`;
export type QueueInfoData = { queueInfo: QueueInfo };

export const JOBS = /* GraphQL */ `query DashboardJobs($first: Int, $after: String, $status: [JobStatus!], $type: String, $phase: Phase) {
  jobs(first: $first, after: $after, status: $status, type: $type, phase: $phase) {
    nodes { ${SUMMARY} }
    pageInfo { hasNextPage endCursor }
  }
}`;
export type JobsData = { jobs: { nodes: JobSummary[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };

/** Finished jobs for the throughput chart: only what the chart needs. */
export const FINISHED_JOBS = /* GraphQL */ `query DashboardFinishedJobs($first: Int, $after: String) {
  jobs(first: $first, after: $after, status: [COMPLETED, FAILED]) {
    nodes { id status finishedAt }
    pageInfo { hasNextPage endCursor }
  }
}`;
export type FinishedJob = { id: string; status: JobStatus; finishedAt: string | null };
export type FinishedJobsData = { jobs: { nodes: FinishedJob[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };

export const JOB_UPDATES = /* GraphQL */ `subscription DashboardJobUpdates($phase: Phase, $type: String) {
  jobUpdates(phase: $phase, type: $type) { ${SUMMARY} }
}`;
export type JobUpdatesData = { jobUpdates: JobSummary };

export const JOB = /* GraphQL */ `query DashboardJob($id: ID!) { job(id: $id) { ${DETAIL} } }`;
export type JobData = { job: JobDetail | null };

export const JOB_PROGRESS = /* GraphQL */ `subscription DashboardJobProgress($id: ID!, $afterSeq: Int) {
  jobProgress(id: $id, afterSeq: $afterSeq) { ${DETAIL} }
}`;
export type JobProgressData = { jobProgress: JobDetail };

export const JOB_EVENTS = /* GraphQL */ `subscription DashboardJobEvents($id: ID!, $afterSeq: Int) {
  jobEvents(id: $id, afterSeq: $afterSeq) { seq at kind status progress message }
}`;
export type JobEventsData = { jobEvents: JobEvent };

export const CANCEL_JOB = /* GraphQL */ `mutation DashboardCancelJob($id: ID!) { cancelJob(id: $id) { ${DETAIL} } }`;
export type CancelJobData = { cancelJob: JobDetail };

export const RETRY_JOB = /* GraphQL */ `mutation DashboardRetryJob($id: ID!) { retryJob(id: $id) { job { ${DETAIL} } } }`;
export type RetryJobData = { retryJob: { job: JobDetail } };

export const TASKS = /* GraphQL */ `query DashboardTasks { tasks { name phase description inputSchema maxAttempts timeoutMs } }`;
export type TasksData = { tasks: TaskInfo[] };

export const ENQUEUE_JOB = /* GraphQL */ `mutation DashboardEnqueue($type: String!, $input: JSON!, $priority: Int, $delayMs: Int) {
  enqueueJob(type: $type, input: $input, priority: $priority, delayMs: $delayMs) { job { id } deduplicated }
}`;
export type EnqueueJobData = { enqueueJob: { job: { id: string }; deduplicated: boolean } };
