import { GraphQLError } from 'graphql';
import { canSee, ownerFilter, requireRole, requireViewer, type Viewer } from '../auth.ts';
import { JobStatus, Phase } from '../../generated/prisma/enums.ts';
import { BACKEND_NAMES } from '../../adapters/backends.ts';
import { InvalidInputError, JobNotFoundError } from '../../jobs/errors.ts';
import { MAX_TAG, MAX_TAGS, optionIssues } from '../../jobs/enqueue-options.ts';
import { BULK_LIMIT, bulkIssues, filterIssues, MAX_FILTER_IDS, type BulkResult, type JobFilter } from '../../jobs/job-filter.ts';
import { describeIssues } from '../../lib/issues.ts';
import { isUuid, type Job, type JobEvent } from '../../jobs/ledger/index.ts';
import type { JobService } from '../../jobs/service.ts';
import { builder, type ApiContext } from './builder.ts';

export const JobStatusEnum = builder.enumType('JobStatus', { values: Object.values(JobStatus) });
/** One value per row of the backend table (src/adapters/backends.ts), as the ledger stores it. */
const QueueBackendEnum = builder.enumType('QueueBackend', { values: BACKEND_NAMES.map((name) => name.toUpperCase()) });
export const PhaseEnum = builder.enumType('Phase', { values: Object.values(Phase) });

const JobErrorRef = builder.objectRef<{ code: string; message: string }>('JobError').implement({
  fields: (t) => ({ code: t.exposeString('code'), message: t.exposeString('message') }),
});

const JobEventRef = builder.objectRef<JobEvent>('JobEvent').implement({
  description: 'One entry of a job\'s history; `seq` numbers them 1, 2, 3… per job.',
  fields: (t) => ({
    seq: t.exposeInt('seq'),
    at: t.expose('at', { type: 'DateTime' }),
    kind: t.exposeString('kind', { description: 'STATUS, PROGRESS, LOG or ATTEMPT' }),
    status: t.expose('status', { type: JobStatusEnum }),
    progress: t.exposeFloat('progress'),
    message: t.exposeString('message', { nullable: true }),
  }),
});

export const JobRef = builder.objectRef<Job>('Job').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type'),
    phase: t.expose('phase', { type: PhaseEnum }),
    status: t.expose('status', { type: JobStatusEnum }),
    progress: t.exposeFloat('progress'),
    message: t.exposeString('message', { nullable: true }),
    attempt: t.exposeInt('attempt'),
    maxAttempts: t.exposeInt('maxAttempts'),
    backend: t.expose('backend', { type: QueueBackendEnum }),
    priority: t.exposeInt('priority'),
    input: t.expose('input', { type: 'JSON' }),
    result: t.expose('result', { type: 'JSON', nullable: true }),
    error: t.field({
      type: JobErrorRef,
      nullable: true,
      resolve: (job) => (job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null),
    }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    tags: t.stringList({ description: "Labels to find it by: its task's (`report:<id>`) and its enqueue's.", resolve: (job) => job.tags ?? [] }),
    scheduleId: t.exposeID('scheduleId', { nullable: true, description: 'The schedule whose tick made this job; null for a job enqueued otherwise.' }),
    concurrencyKey: t.exposeString('concurrencyKey', { nullable: true, description: "The task's concurrency key for this job's input: at most its limit of the key's jobs run at once." }),
    waitingOn: t.exposeString('waitingOn', { nullable: true, description: 'Why a waiting job waits beyond its queue (its concurrency key is busy); null once it runs. A running job waiting on a shared limit says so in its history.' }),
    fairGroup: t.exposeString('fairGroup', { nullable: true, description: "The group it takes turns with (fairness): by default who enqueued it; '' for jobs no one enqueued by name." }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    runAt: t.expose('runAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    nextRetryAt: t.expose('nextRetryAt', { type: 'DateTime', nullable: true }),
    lastSeq: t.exposeInt('lastSeq', { description: 'The seq of the latest event: resume subscriptions after it.' }),
    events: t.field({
      type: [JobEventRef],
      args: {
        afterSeq: t.arg.int({ description: 'Only events after this seq.' }),
        last: t.arg.int({ description: 'Only the latest N (after afterSeq).' }),
      },
      resolve: (job, args, ctx) => {
        if (args.last != null && (args.last < 1 || args.last > 1_000)) throw badInput('last must be between 1 and 1000', ['last']);
        return ctx.system.events(job.id, {
          ...(args.afterSeq != null ? { afterSeq: args.afterSeq } : {}),
          ...(args.last != null ? { last: args.last } : {}),
        });
      },
    }),
  }),
});

export const JobPayloadRef = builder.objectRef<{ job: Job; deduplicated: boolean }>('JobPayload').implement({
  fields: (t) => ({
    job: t.field({ type: JobRef, resolve: (payload) => payload.job }),
    deduplicated: t.exposeBoolean('deduplicated', {
      description: 'True when the idempotency key was already used: `job` is the existing job.',
    }),
  }),
});

const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const JobEdgeRef = builder.objectRef<{ node: Job; cursor: string }>('JobEdge').implement({
  fields: (t) => ({ node: t.field({ type: JobRef, resolve: (edge) => edge.node }), cursor: t.exposeString('cursor') }),
});

const JobConnectionRef = builder
  .objectRef<{ edges: { node: Job; cursor: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }>('JobConnection')
  .implement({
    fields: (t) => ({
      edges: t.field({ type: [JobEdgeRef], resolve: (c) => c.edges }),
      nodes: t.field({ type: [JobRef], resolve: (c) => c.edges.map((e) => e.node) }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
    }),
  });

/** A job the caller may see, or JOB_NOT_FOUND (someone else's job is not told apart from none). */
async function visibleJob(ctx: ApiContext, id: string, viewer: Viewer = requireViewer(ctx.viewer)): Promise<Job> {
  const job = await ctx.system.getJob(id);
  if (!job || !canSee(viewer, job)) throw new JobNotFoundError(id);
  return job;
}

export function badInput(message: string, path: (string | number)[], issues?: unknown): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', field: path.join('.'), ...(issues ? { issues } : {}) } });
}

/** A page cursor: where a list ordered by (createdAt, id) goes on — of jobs, of runs. */
export const encodeCursor = (row: { createdAt: Date; id: string }) => Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !isUuid(id) || Number.isNaN(createdAt.getTime())) throw badInput('after is not a cursor this API gave out', ['after']);
  return { createdAt, id };
}

export const JobFilterInput = builder.inputType('JobFilter', {
  description:
    'Which jobs: every field given narrows (AND). A bulk action (cancelJobs, retryJobs) needs ids, type, phase, tags or input, or `all: true`: status and a time range alone mean every job of those statuses.',
  fields: (t) => ({
    ids: t.idList({ description: `Only these jobs (at most ${MAX_FILTER_IDS}).` }),
    status: t.field({ type: [JobStatusEnum] }),
    type: t.string({ description: 'The task.' }),
    phase: t.field({ type: PhaseEnum }),
    tags: t.stringList({ description: 'Jobs that carry every one of these tags (e.g. report:<id>).' }),
    input: t.field({ type: 'JSON', description: 'Jobs whose input contains this JSON object: {"reportId": "…"} finds every job of that report (indexed).' }),
    createdAfter: t.field({ type: 'DateTime', description: 'Created at or after this instant.' }),
    createdBefore: t.field({ type: 'DateTime', description: 'Created before this instant.' }),
  }),
});

type JobFilterArg = {
  ids?: (string | number)[] | null;
  status?: JobFilter['status'] | null;
  type?: string | null;
  phase?: JobFilter['phase'] | null;
  tags?: string[] | null;
  input?: unknown;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
};

/**
 * The filter argument as the job service takes it, checked by the filter's rule (job-filter.ts),
 * scoped to the caller's own jobs unless they are an admin. Errors name the field (`filter.tags.0`).
 */
function jobFilter(arg: JobFilterArg | null | undefined, viewer: Viewer, under = 'filter'): JobFilter {
  const given = arg ?? {};
  if (given.input != null && (typeof given.input !== 'object' || Array.isArray(given.input))) {
    throw badInput('input must be a JSON object (its fields are matched by containment)', [under, 'input']);
  }
  const owner = ownerFilter(viewer);
  const filter: JobFilter = {
    ...(given.ids ? { ids: given.ids.map(String) } : {}),
    ...(given.status?.length ? { status: given.status } : {}),
    ...(given.type ? { type: given.type } : {}),
    ...(given.phase ? { phase: given.phase } : {}),
    ...(given.tags ? { tags: given.tags } : {}),
    ...(given.input != null ? { input: given.input as Record<string, unknown> } : {}),
    ...(given.createdAfter ? { createdAfter: given.createdAfter } : {}),
    ...(given.createdBefore ? { createdBefore: given.createdBefore } : {}),
    ...(owner !== undefined ? { createdBy: owner } : {}),
  };
  const [issue] = filterIssues(filter);
  if (issue) throw badInput(issue.message, [under, ...issue.path]);
  return filter;
}

builder.queryFields((t) => ({
  job: t.field({
    type: JobRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const job = await ctx.system.getJob(String(id));
      return job && canSee(viewer, job) ? job : null;
    },
  }),
  jobs: t.field({
    type: JobConnectionRef,
    description: 'Jobs, newest first. Non-admins see their own. `filter` finds them by tags, input fields, ids or a creation time range too.',
    args: {
      first: t.arg.int({ defaultValue: 20 }),
      after: t.arg.string(),
      status: t.arg({ type: [JobStatusEnum] }),
      type: t.arg.string(),
      phase: t.arg({ type: PhaseEnum }),
      // Tags, input, ids, a time range; status, type and phase here or as the arguments above (not both).
      filter: t.arg({ type: JobFilterInput }),
    },
    resolve: async (_, args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const first = args.first ?? 20;
      if (first < 1 || first > 200) throw badInput('first must be between 1 and 200', ['first']);
      for (const field of ['status', 'type', 'phase'] as const) {
        if (args[field] != null && args.filter?.[field] != null) throw badInput(`${field} is given twice: as an argument and in filter`, ['filter', field]);
      }
      const filter = jobFilter({ ...args.filter, status: args.status ?? args.filter?.status, type: args.type ?? args.filter?.type, phase: args.phase ?? args.filter?.phase }, viewer);
      const { jobs, hasNextPage } = await ctx.system.listJobs({
        first,
        ...(args.after ? { after: decodeCursor(args.after) } : {}),
        ...filter,
      });
      const edges = jobs.map((node) => ({ node, cursor: encodeCursor(node) }));
      return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  }),
}));

/** Checks the enqueue options every enqueue mutation shares; errors name the argument. */
function enqueueOptions(
  args: { idempotencyKey?: string | null; delayMs?: number | null; priority?: number | null; tags?: readonly string[] | null },
  viewer: Viewer,
) {
  const [issue] = optionIssues(args);
  if (issue) throw badInput(issue.message, [issue.path.join('.')]);
  return {
    idempotencyKey: args.idempotencyKey ?? null,
    delayMs: args.delayMs ?? 0,
    priority: args.priority ?? 0,
    tags: args.tags ?? null,
    createdBy: viewer.name,
  };
}

/** Enqueues for the caller, turning an input validation failure into field-path errors under `inputArg`. */
export async function enqueueFor(
  system: JobService,
  viewer: Viewer,
  type: string,
  input: unknown,
  args: Parameters<typeof enqueueOptions>[0],
  inputArg: string,
) {
  try {
    return await system.enqueue(type, input, enqueueOptions(args, viewer));
  } catch (error) {
    throw asBadUserInput(error, `Invalid input for ${type}`, inputArg);
  }
}

/** An input validation failure as a GraphQL error whose issues name fields under the argument `under`; anything else as it is. */
function asBadUserInput(error: unknown, what: string, under: string): unknown {
  if (!(error instanceof InvalidInputError)) return error;
  const issues = error.issues.map((issue) => ({ path: [under, ...issue.path].join('.'), message: issue.message }));
  return new GraphQLError(`${what}: ${describeIssues(error.issues, [under])}`, { extensions: { code: 'BAD_USER_INPUT', issues } });
}

const EnqueueJobInput = builder.inputType('EnqueueJobInput', {
  description: 'One job of enqueueJobs.',
  fields: (t) => ({
    type: t.string({ required: true }),
    input: t.field({ type: 'JSON', required: true }),
    idempotencyKey: t.string(),
    delayMs: t.int(),
    priority: t.int(),
    tags: t.stringList({ description: TAGS_HELP }),
  }),
});

/** The most jobs one enqueueJobs call takes. */
const MAX_BULK = 1_000;

/** The `tags` of an enqueueJobs item (the mutations' `tags` argument says the same, undescribed to keep their SDL one line). */
const TAGS_HELP = `Labels to find the job by (jobs(filter: { tags })), besides its task's: at most ${MAX_TAGS}, each 1 to ${MAX_TAG} characters.`;

const BulkJobsPayloadRef = builder.objectRef<BulkResult & { dryRun: boolean }>('BulkJobsPayload').implement({
  description: 'What one cancelJobs or retryJobs call did. Call again with the same filter while hasMore is true.',
  fields: (t) => ({
    matched: t.int({ description: 'Jobs of this batch: matching the filter in a status the action applies to, at most limit.', resolve: (r) => r.matched.length }),
    matchedIds: t.idList({ description: 'Their ids, newest first.', resolve: (r) => r.matched }),
    acted: t.int({ description: 'How many of them the action changed (a job another writer moved meanwhile is left out); 0 on a dry run.', resolve: (r) => r.changed.length }),
    ids: t.idList({ description: 'The jobs the action changed.', resolve: (r) => r.changed }),
    hasMore: t.exposeBoolean('hasMore', { description: 'More jobs match beyond this batch.' }),
    dryRun: t.exposeBoolean('dryRun'),
  }),
});

/** The arguments cancelJobs and retryJobs share. */
function bulkArgs(t: Parameters<Parameters<typeof builder.mutationFields>[0]>[0]) {
  return {
    filter: t.arg({ type: JobFilterInput, required: true }),
    limit: t.arg.int({ description: `At most this many jobs (default ${BULK_LIMIT.default}, at most ${BULK_LIMIT.max}).` }),
    all: t.arg.boolean({ description: 'Act on a filter that names no ids, type, phase, tags or input (every job of its statuses).' }),
    dryRun: t.arg.boolean({ description: 'Only answer which jobs the call would act on (matchedIds): confirm, then act on { ids } of them.' }),
  };
}

/** A bulk action for the caller: their own jobs unless admin, their name in each job's history; errors name the argument. */
async function bulkFor(
  ctx: ApiContext,
  action: 'cancelJobs' | 'retryJobs',
  args: { filter: JobFilterArg; limit?: number | null; all?: boolean | null; dryRun?: boolean | null },
): Promise<BulkResult & { dryRun: boolean }> {
  const viewer = requireRole(ctx.viewer, 'operator');
  const filter = jobFilter(args.filter, viewer);
  const opts = { limit: args.limit ?? null, all: args.all ?? false, dryRun: args.dryRun ?? false, by: viewer.name };
  const [issue] = bulkIssues(filter, opts);
  if (issue) throw badInput(issue.message, issue.path);
  return { ...(await ctx.system[action](filter, opts)), dryRun: opts.dryRun };
}

builder.mutationFields((t) => ({
  enqueueJobs: t.field({
    type: [JobPayloadRef],
    description: `Queues up to ${MAX_BULK} jobs in one call (as BullMQ's addBulk): every item is validated before any is written, then they are written together; idempotency per item. An unfit item refuses the call, naming its index and field (jobs.3.input.text).`,
    args: { jobs: t.arg({ type: [EnqueueJobInput], required: true }) },
    resolve: async (_, { jobs }, ctx) => {
      const viewer = requireRole(ctx.viewer, 'operator');
      if (jobs.length > MAX_BULK) throw badInput(`at most ${MAX_BULK} jobs a call, got ${jobs.length}`, ['jobs']);
      const items = jobs.map((job, i) => {
        try {
          return { type: job.type, input: job.input, opts: enqueueOptions(job, viewer) };
        } catch (error) {
          // The option checks name the field; put it under the item.
          if (error instanceof GraphQLError) throw badInput(error.message, ['jobs', i, String(error.extensions.field)]);
          throw error;
        }
      });
      try {
        return await ctx.system.enqueueMany(items);
      } catch (error) {
        throw asBadUserInput(error, 'Invalid jobs', 'jobs');
      }
    },
  }),
  enqueueJob: t.field({
    type: JobPayloadRef,
    description: 'Queues a job of any registered task; the typed per-task mutations do the same with typed input.',
    args: {
      type: t.arg.string({ required: true }),
      input: t.arg({ type: 'JSON', required: true }),
      idempotencyKey: t.arg.string(),
      delayMs: t.arg.int(),
      priority: t.arg.int(),
      tags: t.arg.stringList(),
    },
    resolve: (_, args, ctx) => {
      const viewer = requireRole(ctx.viewer, 'operator');
      if (!ctx.system.tasks.has(args.type)) throw badInput(`No task named "${args.type}"`, ['type']);
      return enqueueFor(ctx.system, viewer, args.type, args.input, args, 'input');
    },
  }),
  cancelJob: t.field({
    type: JobRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      const viewer = requireRole(ctx.viewer, 'operator');
      const job = await visibleJob(ctx, String(id), viewer);
      return ctx.system.cancel(job.id, viewer.name);
    },
  }),
  retryJob: t.field({
    type: JobPayloadRef,
    description: 'Runs a FAILED or CANCELLED job again as a new attempt.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      const viewer = requireRole(ctx.viewer, 'operator');
      const job = await visibleJob(ctx, String(id), viewer);
      return { job: await ctx.system.retry(job.id, viewer.name), deduplicated: false };
    },
  }),
  cancelJobs: t.field({
    type: BulkJobsPayloadRef,
    description: `Cancels the jobs matching the filter that a cancel applies to (QUEUED, RETRYING, RUNNING), each as cancelJob does, at most limit (${BULK_LIMIT.default}; up to ${BULK_LIMIT.max}) a call, newest first; hasMore says to call again. Operators act on their own jobs, admins on all; each job's history says who, in a bulk cancel.`,
    args: bulkArgs(t),
    resolve: (_, args, ctx) => bulkFor(ctx, 'cancelJobs', args),
  }),
  retryJobs: t.field({
    type: BulkJobsPayloadRef,
    description: `Retries the FAILED and CANCELLED jobs matching the filter, each as retryJob does, at most limit (${BULK_LIMIT.default}; up to ${BULK_LIMIT.max}) a call, newest first; hasMore says to call again. Operators act on their own jobs, admins on all; each job's history says who, in a bulk retry.`,
    args: bulkArgs(t),
    resolve: (_, args, ctx) => bulkFor(ctx, 'retryJobs', args),
  }),
}));

builder.subscriptionFields((t) => ({
  jobProgress: t.field({
    type: JobRef,
    description: 'The job now, then after every change; completes after a terminal state.',
    args: { id: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: async (_, { id, afterSeq }, ctx) => {
      const job = await visibleJob(ctx, String(id));
      return ctx.live.jobProgress(job.id, afterSeq ?? 0);
    },
    resolve: (job) => job,
  }),
  jobEvents: t.field({
    type: JobEventRef,
    description: 'Events after afterSeq from the ledger, then live: no gap, no duplicate. Completes after a terminal state.',
    args: { id: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: async (_, { id, afterSeq }, ctx) => {
      const job = await visibleJob(ctx, String(id));
      return ctx.live.jobEvents(job.id, afterSeq ?? 0);
    },
    resolve: (event) => event,
  }),
  jobUpdates: t.field({
    type: JobRef,
    description: 'Every change of every job the caller may see, optionally of one phase or task type.',
    args: { phase: t.arg({ type: PhaseEnum }), type: t.arg.string() },
    subscribe: (_, { phase, type }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      return ctx.live.jobUpdates(
        (change) =>
          (!phase || change.phase === phase) &&
          (!type || change.type === type) &&
          (viewer.role === 'admin' || change.createdBy === viewer.name),
      );
    },
    resolve: (job) => job,
  }),
}));
