/**
 * Workflow runs as a service (RunService, what the API may ask): start a run, decide its gates,
 * retry it, re-run it from a step, cancel it, read it. Each action is one conditional write in
 * the ledger, then an advance (advancer.ts) and a word on the bus to every process's subscribers.
 */
import { CodedError } from '../../lib/errors.ts';
import { describeIssues, fieldIssues, type FieldIssue } from '../../lib/issues.ts';
import { InvalidInputError } from '../errors.ts';
import type { Ledger, RunEvent, RunListFilter, RunSummary, RunView, WorkflowRun } from '../ledger/index.ts';
import type { Params } from '../ledger/sql.ts';
import type { RunAdvancer } from './advancer.ts';
import { isLiveRun, LIVE_RUN_STATUSES } from './states.ts';
import { downstreamOf, type AnyWorkflow, type GateDecision, type WorkflowRegistry } from './workflow.ts';

export class RunNotFoundError extends CodedError {
  constructor(runId: string) {
    super('RUN_NOT_FOUND', `Run ${runId} does not exist`);
  }
}

export class StepNotFoundError extends CodedError {
  constructor(runId: string, step: string, steps: string[]) {
    super('STEP_NOT_FOUND', `Run ${runId} has no step "${step}" (its steps: ${steps.join(', ')})`);
  }
}

/** An action the run's or the step's state does not allow (approve a gate that is not open, …). */
export class IllegalRunActionError extends CodedError {
  constructor(message: string) {
    super('ILLEGAL_TRANSITION', message);
  }
}

export interface StartRunOptions {
  idempotencyKey?: string | null;
  createdBy?: string | null;
}

/** What the API may ask of workflow runs. */
export interface RunService {
  /** The workflows this process knows. */
  workflows(): AnyWorkflow[];
  start(workflow: string, input: unknown, opts?: StartRunOptions): Promise<{ run: RunView; deduplicated: boolean }>;
  get(runId: string): Promise<RunView | undefined>;
  list(filter: RunListFilter): Promise<{ runs: WorkflowRun[]; hasNextPage: boolean }>;
  events(runId: string, afterSeq?: number): Promise<RunEvent[]>;
  approve(runId: string, step: string, by: string, comment?: string | null): Promise<RunView>;
  /** Rejects an open gate: the run fails (rerunFrom starts it again from any step). */
  reject(runId: string, step: string, by: string, comment?: string | null): Promise<RunView>;
  /** A FAILED or CANCELLED run: its failed, rejected and cancelled steps and what follows them run again; completed steps keep their results. */
  retry(runId: string, by: string | null): Promise<RunView>;
  /** A step and everything downstream of it run again (new jobs); what is upstream keeps its results. */
  rerunFrom(runId: string, step: string, by: string | null): Promise<RunView>;
  /** Cancels every step not yet ended; nothing starts after it. */
  cancel(runId: string, by: string | null): Promise<RunView>;
  /** Runs per workflow and status, open gates and the oldest one's wait (read from the ledger). */
  summary(): Promise<RunSummary>;
  /** Every gate this process decided (for metrics); returns the unsubscribe. */
  onDecision(listener: (decision: GateDecided) => void): () => void;
  /** Every run change this process hears of, from any process; returns the unsubscribe. */
  onRunChange(listener: (change: { runId: string; seq: number }) => void): () => void;
}

export interface GateDecided {
  workflow: string;
  step: string;
  decision: 'APPROVED' | 'REJECTED';
  /** From the gate opening to the decision. */
  waitedMs: number;
}

export interface RunsOptions {
  ledger: Ledger;
  workflows: WorkflowRegistry;
  advancer: RunAdvancer;
  publish(runId: string, seq: number): void;
  /** Runs a workflow's `check` with what it needs (the ledger's data, the tasks' collaborators). */
  check(workflow: AnyWorkflow, input: unknown): Promise<FieldIssue[]>;
  listen(listener: (change: { runId: string; seq: number }) => void): () => void;
}

export class Runs implements RunService {
  readonly #opts: RunsOptions;
  readonly #decisionListeners = new Set<(decision: GateDecided) => void>();
  constructor(opts: RunsOptions) {
    this.#opts = opts;
  }

  workflows(): AnyWorkflow[] {
    return this.#opts.workflows.list();
  }

  async start(name: string, input: unknown, opts: StartRunOptions = {}): Promise<{ run: RunView; deduplicated: boolean }> {
    const workflow = this.#opts.workflows.get(name);
    if (!workflow) throw new InvalidInputError(`No workflow named "${name}"`, [{ path: ['workflow'], message: `no workflow named "${name}"` }]);
    const parsed = workflow.input.safeParse(input);
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error);
      throw new InvalidInputError(`Invalid input for workflow ${name}: ${describeIssues(issues)}`, issues);
    }
    const unfit = await this.#opts.check(workflow, parsed.data);
    if (unfit.length > 0) throw new InvalidInputError(`Invalid input for workflow ${name}: ${describeIssues(unfit)}`, unfit);
    const { run, deduplicated } = await this.#opts.ledger.runs.createRun({
      workflow: name,
      input: parsed.data,
      idempotencyKey: opts.idempotencyKey ?? null,
      createdBy: opts.createdBy ?? null,
      steps: workflow.steps.map((step) => ({ name: step.name, kind: step.kind, task: step.task?.name ?? null, parents: step.parents })),
    });
    if (!deduplicated) await this.#advanced(run.id);
    return { run: await this.#require(run.id), deduplicated };
  }

  get(runId: string): Promise<RunView | undefined> {
    return this.#opts.ledger.runs.read(runId);
  }

  list(filter: RunListFilter): Promise<{ runs: WorkflowRun[]; hasNextPage: boolean }> {
    return this.#opts.ledger.runs.list(filter);
  }

  events(runId: string, afterSeq = 0): Promise<RunEvent[]> {
    return this.#opts.ledger.runs.events(runId, afterSeq);
  }

  async approve(runId: string, step: string, by: string, comment: string | null = null): Promise<RunView> {
    const decision: GateDecision = { decision: 'APPROVED', by, comment, at: new Date().toISOString() };
    return this.#decide(runId, step, 'approve', by, comment, (p) => `"result" = ${p.json(decision)}`);
  }

  async reject(runId: string, step: string, by: string, comment: string | null = null): Promise<RunView> {
    const error = `rejected by ${by}${comment ? `: ${comment}` : ''}`;
    return this.#decide(runId, step, 'reject', by, comment, (p) => `"error" = ${p.add(error)}`);
  }

  async #decide(
    runId: string,
    step: string,
    transition: 'approve' | 'reject',
    by: string,
    comment: string | null,
    set: (p: Params) => string,
  ): Promise<RunView> {
    const moved = await this.#opts.ledger.runs.moveStep({
      runId,
      step,
      transition,
      to: transition === 'approve' ? 'COMPLETED' : 'REJECTED',
      actor: by,
      message: `${transition === 'approve' ? 'approved' : 'rejected'}${comment ? `: ${comment}` : ''}`,
      runIn: LIVE_RUN_STATUSES,
      where: () => `"kind" = 'GATE'`,
      set: (p) => `"decidedBy" = ${p.add(by)}, "decidedAt" = now(), "comment" = ${p.add(comment)}, "finishedAt" = now(), ${set(p)}`,
    });
    if (!moved) await this.#explain(runId, step, transition);
    const view = await this.#require(runId);
    const decided: GateDecided = {
      workflow: view.run.workflow,
      step,
      decision: transition === 'approve' ? 'APPROVED' : 'REJECTED',
      waitedMs: moved!.decidedAt && moved!.startedAt ? moved!.decidedAt.getTime() - moved!.startedAt.getTime() : 0,
    };
    for (const listener of this.#decisionListeners) {
      try {
        listener(decided);
      } catch {
        // Metrics only: a listener's failure must not fail a decision already recorded.
      }
    }
    await this.#advanced(runId);
    return this.#require(runId);
  }

  summary(): Promise<RunSummary> {
    return this.#opts.ledger.runs.summary();
  }

  onDecision(listener: (decision: GateDecided) => void): () => void {
    this.#decisionListeners.add(listener);
    return () => this.#decisionListeners.delete(listener);
  }

  async retry(runId: string, by: string | null): Promise<RunView> {
    const view = await this.#require(runId);
    const workflow = this.#workflowOf(view);
    if (view.run.status !== 'FAILED' && view.run.status !== 'CANCELLED') {
      throw new IllegalRunActionError(`Run ${runId} is ${view.run.status}: only a FAILED or CANCELLED run is retried`);
    }
    const broken = view.steps.filter((step) => step.status === 'FAILED' || step.status === 'REJECTED' || step.status === 'CANCELLED');
    const steps = downstreamOf(workflow, broken.map((step) => step.name));
    this.#refuseRunning(view, steps);
    const moved = await this.#opts.ledger.runs.resetSteps({ runId, steps, transition: 'retry', actor: by, message: by ? `retried by ${by}` : 'retried' });
    if (!moved) return this.retry(runId, by); // it moved meanwhile: look again
    await this.#advanced(runId);
    return this.#require(runId);
  }

  async rerunFrom(runId: string, step: string, by: string | null): Promise<RunView> {
    const view = await this.#require(runId);
    const workflow = this.#workflowOf(view);
    if (!view.steps.some((candidate) => candidate.name === step)) throw new StepNotFoundError(runId, step, view.steps.map((s) => s.name));
    if (view.run.status === 'CANCELLED') throw new IllegalRunActionError(`Run ${runId} was cancelled: retryRun starts it again`);
    const steps = downstreamOf(workflow, [step]);
    this.#refuseRunning(view, steps);
    const message = `re-run from ${step}${by ? ` by ${by}` : ''}`;
    const moved = await this.#opts.ledger.runs.resetSteps({ runId, steps, transition: 'rerun', actor: by, message });
    if (!moved) throw new IllegalRunActionError(`Run ${runId} moved while it was being re-run; try again`);
    await this.#advanced(runId);
    return this.#require(runId);
  }

  async cancel(runId: string, by: string | null): Promise<RunView> {
    const view = await this.#require(runId);
    if (view.run.status === 'CANCELLED') return view;
    const moved = await this.#opts.ledger.runs.moveRun({
      runId,
      transition: 'cancel',
      to: 'CANCELLED',
      actor: by,
      reason: by ? `cancelled by ${by}` : 'cancelled',
      message: by ? `cancelled by ${by}` : 'cancelled',
    });
    if (!moved) {
      const now = await this.#require(runId);
      if (now.run.status !== 'CANCELLED') throw new IllegalRunActionError(`Run ${runId} is ${now.run.status}: it cannot be cancelled`);
    }
    await this.#advanced(runId);
    return this.#require(runId);
  }

  onRunChange(listener: (change: { runId: string; seq: number }) => void): () => void {
    return this.#opts.listen(listener);
  }

  /** Advances the run (a failure is the sweep's to repair), then tells every process's subscribers where it is. */
  async #advanced(runId: string): Promise<void> {
    await this.#opts.advancer.advanceOrLeave(runId);
    const run = await this.#opts.ledger.runs.getRun(runId);
    if (run) this.#opts.publish(runId, run.lastSeq);
  }

  async #require(runId: string): Promise<RunView> {
    const view = await this.#opts.ledger.runs.read(runId);
    if (!view) throw new RunNotFoundError(runId);
    return view;
  }

  #workflowOf(view: RunView): AnyWorkflow {
    const workflow = this.#opts.workflows.get(view.run.workflow);
    if (!workflow) throw new IllegalRunActionError(`Run ${view.run.id}: no workflow named "${view.run.workflow}" in this deployment`);
    return workflow;
  }

  /** A step whose job is still running cannot be set back: its outcome would land on the new generation's step. */
  #refuseRunning(view: RunView, steps: readonly string[]): void {
    const running = view.steps.filter((step) => steps.includes(step.name) && step.status === 'ACTIVE');
    if (running.length > 0) {
      throw new IllegalRunActionError(
        `Run ${view.run.id}: ${running.map((step) => step.name).join(', ')} still running; wait for it to end or cancel the run first`,
      );
    }
  }

  /** Why a gate decision changed nothing, as the error the caller gets. */
  async #explain(runId: string, step: string, transition: 'approve' | 'reject'): Promise<never> {
    const view = await this.#require(runId);
    const found = view.steps.find((candidate) => candidate.name === step);
    if (!found) throw new StepNotFoundError(runId, step, view.steps.map((s) => s.name));
    if (found.kind !== 'GATE') throw new IllegalRunActionError(`Step ${step} is a task, not a sign-off gate: it cannot be ${transition}d`);
    if (!isLiveRun(view.run.status)) throw new IllegalRunActionError(`Run ${runId} is ${view.run.status}: its gates take no decisions`);
    throw new IllegalRunActionError(`Gate ${step} is ${found.status}, not waiting for a decision`);
  }
}
