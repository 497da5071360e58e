/**
 * Workflow runs over GraphQL: start the report's testing (or any workflow), read and follow runs,
 * decide sign-off gates, retry, re-run from a step, cancel. Operators start and change their own
 * runs; approvers (and admins) see every run and decide the gates of runs others started.
 */
import { GraphQLError } from 'graphql';
import { RunStatus, StepKind, StepStatus } from '../../generated/prisma/enums.ts';
import { InvalidInputError } from '../../jobs/errors.ts';
import { type RunEvent, type RunView, type StepView, type WorkflowRun } from '../../jobs/ledger/index.ts';
import { RunNotFoundError } from '../../jobs/runs/runs.ts';
import { describeIssues } from '../../lib/issues.ts';
import { canSeeRun, requireRole, requireViewer, type Viewer } from '../auth.ts';
import { followRun, runProgress, stepProgress, type RunUpdate } from '../live-runs.ts';
import { builder, type ApiContext } from './builder.ts';
import { namedEnum } from './enums.ts';
import { badInput, decodeCursor, encodeCursor, JobRef } from './jobs.ts';

const RunStatusEnum = builder.enumType('RunStatus', { values: Object.values(RunStatus) });
const StepStatusEnum = builder.enumType('StepStatus', { values: Object.values(StepStatus) });
const StepKindEnum = builder.enumType('StepKind', { values: Object.values(StepKind) });
const SampleMethodEnum = namedEnum('SampleMethod', ['RANDOM', 'STRATIFIED', 'RISK_BASED']);

const RunEventRef = builder.objectRef<RunEvent>('RunEvent').implement({
  description: "One entry of a run's history: a step's move, a gate's decision (actor, comment), the run's own status. `seq` numbers them per run.",
  fields: (t) => ({
    seq: t.exposeInt('seq'),
    at: t.expose('at', { type: 'DateTime' }),
    step: t.exposeString('step', { nullable: true, description: 'The step that moved; null: the run itself.' }),
    status: t.exposeString('status', { description: "The step's (or the run's) new status." }),
    message: t.exposeString('message', { nullable: true }),
    actor: t.exposeString('actor', { nullable: true, description: 'Who did it, when someone did (a decision, a retry, a cancel).' }),
  }),
});

const GateDecisionRef = builder.objectRef<StepView>('GateDecision').implement({
  description: "A sign-off gate's decision: who, when, and what they wrote.",
  fields: (t) => ({
    decision: t.string({ resolve: (step) => (step.status === 'REJECTED' ? 'REJECTED' : 'APPROVED') }),
    by: t.string({ nullable: true, resolve: (step) => step.decidedBy }),
    at: t.field({ type: 'DateTime', resolve: (step) => step.decidedAt! }),
    comment: t.exposeString('comment', { nullable: true }),
  }),
});

const RunStepRef = builder.objectRef<StepView>('RunStep').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: StepKindEnum, resolve: (step) => step.kind }),
    task: t.exposeString('task', { nullable: true, description: 'The task a TASK step runs.' }),
    parents: t.exposeStringList('parents', { description: 'The steps it waits for.' }),
    status: t.field({ type: StepStatusEnum, resolve: (step) => step.status }),
    progress: t.float({ description: "0–100: its job's while it runs, 100 once done.", resolve: stepProgress }),
    message: t.string({ nullable: true, resolve: (step) => step.job?.message ?? null }),
    attempt: t.int({ nullable: true, description: "Its job's attempt.", resolve: (step) => step.job?.attempt ?? null }),
    generation: t.exposeInt('generation', { description: '0 for the first run of the step; each retryRun or rerunFrom of it adds one (a new job).' }),
    job: t.field({
      type: JobRef,
      nullable: true,
      description: "The step's current job.",
      resolve: (step, _, ctx) => (step.jobId ? ctx.system.getJob(step.jobId).then((job) => job ?? null) : null),
    }),
    result: t.expose('result', { type: 'JSON', nullable: true, description: "What it made: its job's result, or a gate's decision." }),
    error: t.exposeString('error', { nullable: true }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    dueAt: t.expose('dueAt', { type: 'DateTime', nullable: true, description: 'An open gate: the decision is due by then, or it counts as rejected.' }),
    decision: t.field({ type: GateDecisionRef, nullable: true, resolve: (step) => (step.decidedAt ? step : null) }),
  }),
});

const RunRef = builder.objectRef<RunView>('Run').implement({
  description: 'A workflow run: a DAG of steps, each a job or a sign-off gate.',
  fields: (t) => ({
    id: t.id({ resolve: ({ run }) => run.id }),
    workflow: t.string({ resolve: ({ run }) => run.workflow }),
    status: t.field({ type: RunStatusEnum, resolve: ({ run }) => run.status }),
    progress: t.float({ description: "0–100: the steps' progress averaged (a gate weighs as a step).", resolve: runProgress }),
    input: t.field({ type: 'JSON', resolve: ({ run }) => run.input }),
    reason: t.string({ nullable: true, description: 'Why it failed or was cancelled.', resolve: ({ run }) => run.reason }),
    createdBy: t.string({ nullable: true, resolve: ({ run }) => run.createdBy }),
    createdAt: t.field({ type: 'DateTime', resolve: ({ run }) => run.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: ({ run }) => run.updatedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: ({ run }) => run.finishedAt }),
    lastSeq: t.int({ description: 'The seq of its latest event: resume runProgress after it.', resolve: ({ run }) => run.lastSeq }),
    steps: t.field({ type: [RunStepRef], resolve: ({ steps }) => steps }),
    events: t.field({
      type: [RunEventRef],
      args: { afterSeq: t.arg.int() },
      resolve: ({ run }, { afterSeq }, ctx) => ctx.system.runs.events(run.id, afterSeq ?? 0),
    }),
  }),
});

const RunSummaryRef = builder.objectRef<WorkflowRun>('RunSummary').implement({
  description: 'A run in a list: query run(id) for its steps.',
  fields: (t) => ({
    id: t.exposeID('id'),
    workflow: t.exposeString('workflow'),
    status: t.field({ type: RunStatusEnum, resolve: (run) => run.status }),
    reason: t.exposeString('reason', { nullable: true }),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const RunConnectionRef = builder
  .objectRef<{ nodes: WorkflowRun[]; hasNextPage: boolean; endCursor: string | null }>('RunConnection')
  .implement({
    fields: (t) => ({
      nodes: t.field({ type: [RunSummaryRef], resolve: (c) => c.nodes }),
      hasNextPage: t.exposeBoolean('hasNextPage'),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

const RunPayloadRef = builder.objectRef<{ run: RunView; deduplicated: boolean }>('RunPayload').implement({
  fields: (t) => ({
    run: t.field({ type: RunRef, resolve: (payload) => payload.run }),
    deduplicated: t.exposeBoolean('deduplicated', { description: 'True when the idempotency key was already used: `run` is the existing run.' }),
  }),
});

const RunUpdateRef = builder.objectRef<RunUpdate>('RunUpdate').implement({
  description: 'runProgress: the run now, and its history since the last update (the first: since afterSeq).',
  fields: (t) => ({
    seq: t.exposeInt('seq'),
    run: t.field({ type: RunRef, resolve: (update) => update.view }),
    events: t.field({ type: [RunEventRef], resolve: (update) => update.events }),
  }),
});

const SamplingInput = builder.inputType('SamplingInput', {
  fields: (t) => ({
    size: t.int({ required: true }),
    method: t.field({ type: SampleMethodEnum, required: true }),
    seed: t.int({ description: 'The same seed and data give the same sample (default 1).' }),
  }),
});

const StartReportTestingInput = builder.inputType('StartReportTestingInput', {
  fields: (t) => ({
    reportId: t.string({ required: true }),
    datasetId: t.string({ required: true }),
    sampling: t.field({ type: SamplingInput, required: true }),
  }),
});

/** A run the caller may see, or RUN_NOT_FOUND (someone else's run is not told apart from none). */
async function visibleRun(ctx: ApiContext, id: string, viewer: Viewer = requireViewer(ctx.viewer)): Promise<RunView> {
  const view = await ctx.system.runs.get(id);
  if (!view || !canSeeRun(viewer, view.run)) throw new RunNotFoundError(id);
  return view;
}

/** A run the caller may change: their own, or any for an admin. */
async function ownRun(ctx: ApiContext, id: string): Promise<{ viewer: Viewer; view: RunView }> {
  const viewer = requireRole(ctx.viewer, 'operator');
  const view = await visibleRun(ctx, id, viewer);
  if (viewer.role !== 'admin' && view.run.createdBy !== viewer.name) throw new RunNotFoundError(id);
  return { viewer, view };
}

/** A gate decision: an approver's (or an admin's), never on a run the approver started. */
async function decider(ctx: ApiContext, runId: string): Promise<Viewer> {
  const viewer = requireRole(ctx.viewer, 'approver');
  const view = await visibleRun(ctx, runId, viewer);
  if (viewer.role !== 'admin' && view.run.createdBy === viewer.name) {
    throw new GraphQLError('Who started a run does not sign it off: another approver decides its gates', {
      extensions: { code: 'FORBIDDEN', http: { status: 403 } },
    });
  }
  return viewer;
}

async function startFor(ctx: ApiContext, workflow: string, input: unknown, idempotencyKey: string | null | undefined) {
  const viewer = requireRole(ctx.viewer, 'operator');
  if (idempotencyKey != null && (idempotencyKey.length === 0 || idempotencyKey.length > 200)) {
    throw badInput('idempotencyKey must be 1 to 200 characters', ['idempotencyKey']);
  }
  try {
    return await ctx.system.runs.start(workflow, input, { idempotencyKey: idempotencyKey ?? null, createdBy: viewer.name });
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const issues = error.issues.map((issue) => ({ path: ['input', ...issue.path].join('.'), message: issue.message }));
    throw new GraphQLError(`Invalid input for ${workflow}: ${describeIssues(error.issues, ['input'])}`, { extensions: { code: 'BAD_USER_INPUT', issues } });
  }
}

builder.queryFields((t) => ({
  run: t.field({
    type: RunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const view = await ctx.system.runs.get(String(id));
      return view && canSeeRun(viewer, view.run) ? view : null;
    },
  }),
  runs: t.field({
    type: RunConnectionRef,
    description: 'Runs, newest first. Viewers and operators see their own; approvers and admins every run.',
    args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string(), status: t.arg({ type: [RunStatusEnum] }), workflow: t.arg.string() },
    resolve: async (_, args, ctx) => {
      const viewer = requireViewer(ctx.viewer);
      const first = args.first ?? 20;
      if (first < 1 || first > 200) throw badInput('first must be between 1 and 200', ['first']);
      const everyRun = viewer.role === 'admin' || viewer.role === 'approver';
      const { runs, hasNextPage } = await ctx.system.runs.list({
        first,
        ...(args.after ? { after: decodeCursor(args.after) } : {}),
        ...(args.status ? { status: args.status } : {}),
        ...(args.workflow ? { workflow: args.workflow } : {}),
        ...(everyRun ? {} : { createdBy: viewer.name }),
      });
      return { nodes: runs, hasNextPage, endCursor: runs.length ? encodeCursor(runs.at(-1)!) : null };
    },
  }),
}));

builder.mutationFields((t) => ({
  startReportTesting: t.field({
    type: RunPayloadRef,
    description:
      "Starts a report's testing as one run: attributes → mappings → scoping → scoping sign-off → (samples ∥ profiling rules ∥ dataset profile) → tests → results sign-off.",
    args: { input: t.arg({ type: StartReportTestingInput, required: true }), idempotencyKey: t.arg.string() },
    resolve: (_, { input, idempotencyKey }, ctx) => startFor(ctx, 'reportTesting', input, idempotencyKey),
  }),
  startRun: t.field({
    type: RunPayloadRef,
    description: 'Starts a run of any workflow this deployment defines, with its input as JSON.',
    args: { workflow: t.arg.string({ required: true }), input: t.arg({ type: 'JSON', required: true }), idempotencyKey: t.arg.string() },
    resolve: (_, { workflow, input, idempotencyKey }, ctx) => {
      if (!ctx.system.runs.workflows().some((w) => w.name === workflow)) throw badInput(`No workflow named "${workflow}"`, ['workflow']);
      return startFor(ctx, workflow, input, idempotencyKey);
    },
  }),
  approveStep: t.field({
    type: RunRef,
    description: 'Approves an open sign-off gate (approver or admin; not on a run you started). The run goes on.',
    args: { runId: t.arg.id({ required: true }), step: t.arg.string({ required: true }), comment: t.arg.string() },
    resolve: async (_, { runId, step, comment }, ctx) => {
      const viewer = await decider(ctx, String(runId));
      return ctx.system.runs.approve(String(runId), step, viewer.name, comment ?? null);
    },
  }),
  rejectStep: t.field({
    type: RunRef,
    description: 'Rejects an open sign-off gate: the run fails, with who and why; rerunFrom starts it again from any step.',
    args: { runId: t.arg.id({ required: true }), step: t.arg.string({ required: true }), comment: t.arg.string() },
    resolve: async (_, { runId, step, comment }, ctx) => {
      const viewer = await decider(ctx, String(runId));
      return ctx.system.runs.reject(String(runId), step, viewer.name, comment ?? null);
    },
  }),
  retryRun: t.field({
    type: RunRef,
    description: 'A FAILED or CANCELLED run: its failed, rejected and cancelled steps and what follows them run again; completed steps keep their results.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      const { viewer, view } = await ownRun(ctx, String(id));
      return ctx.system.runs.retry(view.run.id, viewer.name);
    },
  }),
  rerunFrom: t.field({
    type: RunRef,
    description: 'Runs a step and everything downstream of it again (new jobs); what is upstream keeps its results.',
    args: { runId: t.arg.id({ required: true }), step: t.arg.string({ required: true }) },
    resolve: async (_, { runId, step }, ctx) => {
      const { viewer, view } = await ownRun(ctx, String(runId));
      return ctx.system.runs.rerunFrom(view.run.id, step, viewer.name);
    },
  }),
  cancelRun: t.field({
    type: RunRef,
    description: 'Cancels every step not yet ended (a running job is aborted where it runs); nothing starts after it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => {
      const { viewer, view } = await ownRun(ctx, String(id));
      return ctx.system.runs.cancel(view.run.id, viewer.name);
    },
  }),
}));

builder.subscriptionFields((t) => ({
  runProgress: t.field({
    type: RunUpdateRef,
    description: 'The run now (with its history after afterSeq), then after every change of it or of its steps\' jobs, from any process; completes once it has ended.',
    args: { id: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: async (_, { id, afterSeq }, ctx) => {
      const view = await visibleRun(ctx, String(id));
      return followRun(ctx.system, view.run.id, afterSeq ?? 0);
    },
    resolve: (update) => update,
  }),
}));
