/**
 * Moves runs forward: settles a step whose job ended, fails a run whose step failed, opens gates
 * and releases steps whose parents are all done, and keeps the run's status true to its steps. One
 * function (`advance`) does all of it from what the ledger says, so it can run at any time, in any
 * process, as often as it likes: every write it makes is conditional, and two advancers of one
 * run agree or one does nothing. It runs when a step's job ends (this process wrote it), after each
 * action on a run, and from the sweep, which keeps the run invariant (runs/states.ts).
 */
import { errorText } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { Rounds } from '../../lib/rounds.ts';
import type { Ledger, NewJob, RunView, StepView } from '../ledger/index.ts';
import { IllegalTransitionError } from '../errors.ts';
import { isTerminal } from '../states.ts';
import { isLiveRun, LIVE_RUN_STATUSES } from './states.ts';
import type { WorkflowRegistry } from './workflow.ts';

export interface AdvancerOptions {
  ledger: Ledger;
  workflows: WorkflowRegistry;
  logger: Logger;
  /** The job a step's task and input make, as an enqueue would record it; throws what an enqueue would. */
  prepare(type: string, input: unknown, createdBy: string | null): Promise<NewJob>;
  /** Cancels a job (a step's, when its run was cancelled). */
  cancelJob(jobId: string, by: string): Promise<unknown>;
  /** Tells every process's subscribers that the run moved. */
  published(runId: string, seq: number): void;
  sweepIntervalMs: number;
}

/** A run moves a few times per advance (settle, release, status): more means someone keeps moving it too. */
const MAX_MOVES_PER_ADVANCE = 50;
const SWEEP_BATCH = 100;

export class RunAdvancer {
  readonly #opts: AdvancerOptions;
  readonly #inFlight = new Map<string, { again: boolean; done: Promise<void> }>();
  readonly #sweep: Rounds;

  constructor(opts: AdvancerOptions) {
    this.#opts = opts;
    this.#sweep = new Rounds(() => this.sweep(), opts.sweepIntervalMs, (error) =>
      opts.logger.warn({ err: error }, 'run sweep failed; the next round tries again'),
    );
  }

  start(): void {
    this.#sweep.start();
  }

  async stop(): Promise<void> {
    await this.#sweep.stop();
    await Promise.all([...this.#inFlight.values()].map((entry) => entry.done));
  }

  /**
   * Advances a run, one advance of a run at a time in this process: a call while one runs makes
   * it go round once more, so no change it did not see is left behind.
   */
  advance(runId: string): Promise<void> {
    const current = this.#inFlight.get(runId);
    if (current) {
      current.again = true;
      return current.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          await this.#advance(runId);
        } while (entry.again);
      } finally {
        this.#inFlight.delete(runId);
      }
    })();
    this.#inFlight.set(runId, entry);
    return entry.done;
  }

  /**
   * Advances, and resolves whatever happens: a failure is logged and left to the sweep. For callers
   * whose own write has already taken effect (a decision, a cancel): they must not be told it failed.
   */
  async advanceOrLeave(runId: string): Promise<void> {
    await this.advance(runId).catch((error: unknown) => {
      this.#opts.logger.warn({ err: error, runId }, 'advancing a run failed; the run sweep tries again');
    });
  }

  /** Advances without waiting (advanceOrLeave). */
  nudge(runId: string): void {
    void this.advanceOrLeave(runId);
  }

  /** The run invariant: every run the ledger says needs it is advanced. */
  async sweep(): Promise<number> {
    const due = await this.#opts.ledger.runs.dueForAdvance(SWEEP_BATCH, this.#opts.sweepIntervalMs);
    // One run that cannot be advanced now does not hold up the others.
    for (const runId of due) {
      await this.advance(runId).catch((error: unknown) => this.#opts.logger.warn({ err: error, runId }, 'run sweep: advancing a run failed; the next round tries again'));
    }
    return due.length;
  }

  async #advance(runId: string): Promise<void> {
    let lastSeq = -1;
    for (let moves = 0; moves < MAX_MOVES_PER_ADVANCE; moves++) {
      const view = await this.#opts.ledger.runs.read(runId);
      if (!view) return;
      if (view.run.lastSeq !== lastSeq) {
        if (lastSeq !== -1) this.#opts.published(runId, view.run.lastSeq);
        lastSeq = view.run.lastSeq;
      }
      if (!(await this.#move(view))) return;
    }
    this.#opts.logger.warn({ runId }, `a run moved ${MAX_MOVES_PER_ADVANCE} times in one advance; the sweep goes on with it`);
  }

  /** One move of the run toward what its steps say; false when there is nothing to do. */
  async #move({ run, steps }: RunView): Promise<boolean> {
    const { ledger } = this.#opts;
    const runId = run.id;
    const ended = steps.find((step) => step.status === 'ACTIVE' && (!step.job || isTerminal(step.job.status)));
    if (ended) return this.#settle(runId, ended);

    if (run.status === 'CANCELLED') {
      const open = steps.find((step) => step.status === 'PENDING' || step.status === 'WAITING');
      if (open) {
        await ledger.runs.moveStep({ runId, step: open.name, transition: 'cancel', to: 'CANCELLED', message: 'its run was cancelled', set: () => `"finishedAt" = now()` });
        return true;
      }
      for (const step of steps) {
        if (step.status !== 'ACTIVE' || !step.job || isTerminal(step.job.status)) continue;
        // A job that ended since it was read cannot be cancelled, and needs not be: the next move settles it.
        await this.#opts.cancelJob(step.job.id, 'its run').catch((error: unknown) => {
          if (!(error instanceof IllegalTransitionError)) throw error;
        });
      }
      return false;
    }
    if (!isLiveRun(run.status)) return false;

    const workflow = this.#opts.workflows.get(run.workflow);
    if (!workflow) {
      // A process started without this workflow (an older build beside a newer one) leaves the run
      // to the processes that know it, rather than failing a run it cannot read.
      this.#opts.logger.warn({ runId, workflow: run.workflow }, 'a run of a workflow this process does not know; left to those that do');
      return false;
    }
    const broken = steps.find((step) => step.status === 'FAILED' || step.status === 'REJECTED' || step.status === 'CANCELLED');
    if (broken) {
      const reason = `step ${broken.name} ${broken.status === 'REJECTED' ? 'was rejected' : broken.status.toLowerCase()}${broken.error ? `: ${broken.error}` : ''}`;
      await ledger.runs.moveRun({ runId, transition: 'fail', to: 'FAILED', reason, message: reason, expectSeq: run.lastSeq });
      return true;
    }
    const overdue = steps.find((step) => step.status === 'WAITING' && step.dueAt && step.dueAt.getTime() <= Date.now());
    if (overdue) {
      await ledger.runs.moveStep({
        runId,
        step: overdue.name,
        transition: 'reject',
        to: 'REJECTED',
        message: 'no decision before it was due',
        set: (p) => `"error" = ${p.add('no decision before it was due')}, "decidedAt" = now(), "finishedAt" = now()`,
        where: () => `"dueAt" <= now()`,
      });
      return true;
    }

    const done = new Map(steps.filter((step) => step.status === 'COMPLETED').map((step) => [step.name, step]));
    let moved = false;
    for (const step of steps) {
      if (step.status !== 'PENDING' || !step.parents.every((parent) => done.has(parent))) continue;
      const spec = workflow.steps.find((candidate) => candidate.name === step.name);
      if (!spec) {
        await this.#refuse(runId, step, `the workflow "${run.workflow}" no longer has this step`);
      } else if (spec.kind === 'GATE') {
        await ledger.runs.moveStep({
          runId,
          step: step.name,
          transition: 'open',
          to: 'WAITING',
          message: 'waiting for sign-off',
          runIn: LIVE_RUN_STATUSES,
          set: (p) => `"startedAt" = now(), "dueAt" = ${spec.timeoutMs ? `now() + ${p.add(spec.timeoutMs)}::int * interval '1 millisecond'` : 'NULL'}`,
          where: (p) => `"generation" = ${p.add(step.generation)}`,
        });
      } else {
        const parents = Object.fromEntries(step.parents.map((parent) => [parent, done.get(parent)!.result]));
        let job: NewJob;
        try {
          job = await this.#opts.prepare(spec.task!.name, spec.input!(run.input, parents), run.createdBy);
        } catch (error) {
          await this.#refuse(runId, step, errorText(error));
          moved = true;
          continue;
        }
        await ledger.runs.releaseStep(runId, step.name, step.generation, job);
      }
      moved = true;
    }
    if (moved) return true;

    const active = steps.some((step) => step.status === 'ACTIVE');
    const waiting = steps.some((step) => step.status === 'WAITING');
    if (steps.every((step) => step.status === 'COMPLETED')) {
      await ledger.runs.moveRun({ runId, transition: 'complete', to: 'COMPLETED', message: 'every step completed', expectSeq: run.lastSeq });
      return true;
    }
    if (run.status === 'RUNNING' && waiting && !active) {
      const gates = steps.filter((step) => step.status === 'WAITING').map((step) => step.name);
      await ledger.runs.moveRun({ runId, transition: 'wait', to: 'WAITING', message: `waiting for sign-off: ${gates.join(', ')}`, expectSeq: run.lastSeq });
      return true;
    }
    if (run.status === 'WAITING' && active) {
      await ledger.runs.moveRun({ runId, transition: 'resume', to: 'RUNNING', expectSeq: run.lastSeq });
      return true;
    }
    return false;
  }

  /** A step's job ended: the step takes its outcome (and result), whatever its run's status now. */
  async #settle(runId: string, step: StepView): Promise<boolean> {
    const job = step.job;
    const to = job?.status === 'COMPLETED' ? 'COMPLETED' : job?.status === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
    const error = !job
      ? 'its job is no longer in the ledger'
      : job.status === 'FAILED'
        ? `${job.errorCode ?? 'FAILED'}: ${job.errorMessage ?? ''}`
        : job.status === 'CANCELLED'
          ? 'its job was cancelled'
          : null;
    await this.#opts.ledger.runs.moveStep({
      runId,
      step: step.name,
      transition: 'settle',
      to,
      message: error ?? `job ${job!.id} completed`,
      set: (p) => `"result" = ${p.json(job?.status === 'COMPLETED' ? job.result : null)}, "error" = ${p.add(error)}, "finishedAt" = now()`,
      where: (p) => (step.jobId ? `"jobId" = ${p.add(step.jobId)}::uuid` : `"jobId" IS NULL`),
    });
    return true;
  }

  async #refuse(runId: string, step: StepView, error: string): Promise<void> {
    await this.#opts.ledger.runs.moveStep({
      runId,
      step: step.name,
      transition: 'refuse',
      to: 'FAILED',
      message: error,
      set: (p) => `"error" = ${p.add(error)}, "finishedAt" = now()`,
      where: (p) => `"generation" = ${p.add(step.generation)}`,
    });
  }
}
