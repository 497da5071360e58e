/**
 * `jobgraph run <action>`: workflow runs from the command line — start the report's testing, watch
 * a run (a bar per running step), show or list runs, approve or reject a gate, retry, re-run from a
 * step, cancel. Its options and help are in commands.ts; this is loaded when it runs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { intOption, positionals, stringOption, type Parsed } from './args.ts';
import { RUN_METHODS, RUN_STATUSES, type Context } from './commands.ts';
import { table, timestamp } from './display.ts';
import { ApiError, EXIT, UsageError } from './errors.ts';
import {
  APPROVE_STEP,
  CANCEL_RUN,
  LIST_RUNS,
  REJECT_STEP,
  RERUN_FROM,
  RETRY_RUN,
  RUN_PROGRESS,
  SHOW_RUN,
  START_REPORT_TESTING,
  type ApproveStepData,
  type CancelRunData,
  type ListRunsData,
  type RejectStepData,
  type RerunFromData,
  type RetryRunData,
  type RunProgressData,
  type RunView,
  type ShowRunData,
  type StartReportTestingData,
} from './operations.ts';
import { createRunProgressView, runTable } from './run-view.ts';

const ACTIONS = ['start', 'watch', 'show', 'list', 'approve', 'reject', 'retry', 'rerun', 'cancel'] as const;
type Action = (typeof ACTIONS)[number];

/** `jobgraph run <action> …` (its options and help are in commands.ts). */
export async function runAction(ctx: Context, parsed: Parsed): Promise<number> {
  const [action] = parsed.positionals as [string | undefined];
  if (!action || !(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`run needs an action: ${ACTIONS.join(', ')}`, 'run');
  }
  return ACTION_RUNNERS[action as Action](ctx, { ...parsed, positionals: parsed.positionals.slice(1) });
}

const ACTION_RUNNERS: Record<Action, (ctx: Context, parsed: Parsed) => Promise<number>> = {
  async start(ctx, parsed) {
    positionals(parsed, [], 'run');
    const report = stringOption(parsed, 'report');
    const dataset = stringOption(parsed, 'dataset');
    if (!report || !dataset) throw new UsageError('run start needs --report and --dataset (`jobgraph` cannot guess which report to test)', 'run');
    const method = (stringOption(parsed, 'method') ?? 'RANDOM').toUpperCase();
    if (!(RUN_METHODS as readonly string[]).includes(method)) throw new UsageError(`--method ${method}: one of ${RUN_METHODS.join(', ')}`, 'run');
    const input = {
      reportId: report,
      datasetId: dataset,
      sampling: { size: intOption(parsed, 'size', 1, 100_000, 'run') ?? 25, method, seed: intOption(parsed, 'seed', 0, 2_147_483_647, 'run') ?? 1 },
    };
    const { startReportTesting } = await ctx.api.request<StartReportTestingData>(START_REPORT_TESTING, {
      input,
      idempotencyKey: stringOption(parsed, 'idempotency-key'),
    });
    if (startReportTesting.deduplicated) ctx.err(`the idempotency key was used before: this is the run it started then (${startReportTesting.run.status})`);
    return answer(ctx, parsed, startReportTesting.run);
  },
  async watch(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'run');
    return watchRun(ctx, id!);
  },
  async show(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'run');
    const { run } = await ctx.api.request<ShowRunData>(SHOW_RUN, { id });
    if (!run) throw new ApiError('graphql', `no run ${id} (or not yours to see)`, 'RUN_NOT_FOUND');
    print(ctx, run);
    return EXIT.ok;
  },
  async list(ctx, parsed) {
    positionals(parsed, [], 'run');
    const status = stringOption(parsed, 'status')?.toUpperCase();
    if (status && !(RUN_STATUSES as readonly string[]).includes(status)) throw new UsageError(`--status ${status}: one of ${RUN_STATUSES.join(', ')}`, 'run');
    const { runs } = await ctx.api.request<ListRunsData>(LIST_RUNS, { first: intOption(parsed, 'first', 1, 200, 'run') ?? 20, status: status ? [status] : undefined });
    if (ctx.json) ctx.out(JSON.stringify(runs.nodes, null, 2));
    else if (runs.nodes.length === 0) ctx.err('no runs');
    else for (const line of table(['ID', 'WORKFLOW', 'STATUS', 'BY', 'CREATED (UTC)', 'REASON'], runs.nodes.map((r) => [r.id, r.workflow, r.status, r.createdBy ?? '', timestamp(r.createdAt), r.reason ?? '']))) ctx.out(line);
    return EXIT.ok;
  },
  async approve(ctx, parsed) {
    const [runId, step] = positionals(parsed, ['id', 'gate'], 'run');
    const { approveStep } = await ctx.api.request<ApproveStepData>(APPROVE_STEP, { runId, step, comment: stringOption(parsed, 'comment') });
    return answer(ctx, parsed, approveStep);
  },
  async reject(ctx, parsed) {
    const [runId, step] = positionals(parsed, ['id', 'gate'], 'run');
    const comment = stringOption(parsed, 'comment');
    if (!comment) throw new UsageError('run reject needs --comment: a rejection says why', 'run');
    const { rejectStep } = await ctx.api.request<RejectStepData>(REJECT_STEP, { runId, step, comment });
    return answer(ctx, parsed, rejectStep);
  },
  async retry(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'run');
    const { retryRun } = await ctx.api.request<RetryRunData>(RETRY_RUN, { id });
    return answer(ctx, parsed, retryRun);
  },
  async rerun(ctx, parsed) {
    const [runId, step] = positionals(parsed, ['id', 'step'], 'run');
    const { rerunFrom } = await ctx.api.request<RerunFromData>(RERUN_FROM, { runId, step });
    return answer(ctx, parsed, rerunFrom);
  },
  async cancel(ctx, parsed) {
    const [id] = positionals(parsed, ['id'], 'run');
    const { cancelRun } = await ctx.api.request<CancelRunData>(CANCEL_RUN, { id });
    print(ctx, cancelRun);
    return EXIT.ok;
  },
};

/** What an action that moved a run prints: its id and status (its table with --json off and no --watch), or it follows it. */
async function answer(ctx: Context, parsed: Parsed, run: RunView): Promise<number> {
  if (parsed.values.watch) {
    if (!ctx.json) ctx.out(run.id);
    return watchRun(ctx, run.id);
  }
  if (ctx.json) ctx.out(JSON.stringify(run, null, 2));
  else ctx.out(`${run.id} ${run.status}`);
  return EXIT.ok;
}

function print(ctx: Context, run: RunView): void {
  if (ctx.json) ctx.out(JSON.stringify(run, null, 2));
  else for (const line of runTable(run)) ctx.out(line);
}

/** Connections lost in a row before giving up. */
const RECONNECTS = 6;

/** Follows a run over runProgress until it ends; resumes after its last seq when a connection drops. */
async function watchRun(ctx: Context, id: string): Promise<number> {
  const view = createRunProgressView(ctx.progressStream);
  const interrupted = (signal: NodeJS.Signals) => {
    view.stop();
    ctx.err(`stopped watching run ${id}; it goes on: \`jobgraph run watch ${id}\` follows it again`);
    process.exit(signal === 'SIGINT' ? EXIT.interrupted : 143);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  let afterSeq = 0;
  let last: RunView | undefined;
  let failures = 0;
  let toldWaiting = '';
  try {
    for (;;) {
      try {
        for await (const data of ctx.api.subscribe<RunProgressData>(RUN_PROGRESS, { id, afterSeq })) {
          failures = 0;
          const { run, events, seq } = data.runProgress;
          afterSeq = seq;
          last = run;
          view.update(run, events);
          const gates = run.steps.filter((step) => step.status === 'WAITING').map((step) => step.name).join(', ');
          if (gates && gates !== toldWaiting) ctx.err(`waiting for sign-off: ${gates} (\`jobgraph run approve ${id} <gate>\` with an approver token)`);
          toldWaiting = gates;
        }
        break;
      } catch (error) {
        if (!(error instanceof ApiError) || error.kind !== 'unreachable' || !last || ++failures > RECONNECTS) throw error;
        await sleep(Math.min(500 * 2 ** (failures - 1), 5_000));
      }
    }
    view.stop();
    if (!last) throw new ApiError('graphql', `no run ${id}`, 'RUN_NOT_FOUND');
    print(ctx, last);
    return last.status === 'COMPLETED' ? EXIT.ok : EXIT.jobFailed;
  } finally {
    view.stop();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
}
