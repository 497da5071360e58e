import { GraphQLError } from 'graphql';
import { canSee, ownerFilter, requireRole, requireViewer, type Viewer } from '../auth.ts';
import { JobStatus, Phase } from '../../generated/prisma/enums.ts';
import { BACKEND_NAMES } from '../../adapters/backends.ts';
import { InvalidInputError, JobNotFoundError } from '../../jobs/errors.ts';
import { optionIssues } from '../../jobs/enqueue-options.ts';
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
    description: 'Jobs, newest first. Non-admins see their own.',
    args: {
      first: t.arg.int({ defaultValue: 20 }),
      after: t.arg.string(),
      status: t.arg({ type: [JobStatusEnum] }),
      type: t.arg.string(),
      phase: t.arg({ type: PhaseEnum }),
    },
    resolve: async (_, args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const first = args.first ?? 20;
      if (first < 1 || first > 200) throw badInput('first must be between 1 and 200', ['first']);
      const owner = ownerFilter(viewer);
      const { jobs, hasNextPage } = await ctx.system.listJobs({
        first,
        ...(args.after ? { after: decodeCursor(args.after) } : {}),
        ...(args.status ? { status: args.status } : {}),
        ...(args.type ? { type: args.type } : {}),
        ...(args.phase ? { phase: args.phase } : {}),
        ...(owner !== undefined ? { createdBy: owner } : {}),
      });
      const edges = jobs.map((node) => ({ node, cursor: encodeCursor(node) }));
      return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  }),
}));

/** Checks the enqueue options every enqueue mutation shares; errors name the argument. */
function enqueueOptions(args: { idempotencyKey?: string | null; delayMs?: number | null; priority?: number | null }, viewer: Viewer) {
  const [issue] = optionIssues(args);
  if (issue) throw badInput(issue.message, [issue.path.join('.')]);
  return {
    idempotencyKey: args.idempotencyKey ?? null,
    delayMs: args.delayMs ?? 0,
    priority: args.priority ?? 0,
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
  }),
});

/** The most jobs one enqueueJobs call takes. */
const MAX_BULK = 1_000;

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
