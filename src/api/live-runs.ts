import { Repeater } from '@repeaterjs/repeater';
import type { RunEvent, RunView } from '../jobs/ledger/index.ts';
import type { JobService } from '../jobs/service.ts';
import { isLiveRun } from '../jobs/runs/states.ts';
import { AsyncQueue, TIMED_OUT } from '../lib/async-queue.ts';

/** What runProgress sends: the run as it is now, and its history since the last update sent. */
export interface RunUpdate {
  /** The run's seq: a subscriber that reconnects with it as afterSeq misses no event. */
  seq: number;
  view: RunView;
  events: RunEvent[];
}

/**
 * A run's progress, live: the run read from the ledger whenever the bus says it moved or one of
 * its step's jobs changed (from any process), coalesced, so a burst of progress costs one read.
 * The history after `afterSeq` comes with the first update; a quiet bus reads the ledger again
 * after `recheckMs`, so a lost message delays an update, never loses one. Ends once the run has
 * ended and none of its steps' jobs is still running.
 */
export function followRun(system: JobService, runId: string, afterSeq = 0, recheckMs = 3_000): Repeater<RunUpdate> {
  return new Repeater<RunUpdate>(async (push, stop) => {
    const moved = new AsyncQueue<true>({ replaces: () => true });
    const signal = () => moved.push(true);
    // Listen before the first read, so nothing falls between the read and the first change.
    const stopRuns = system.runs.onRunChange((change) => change.runId === runId && signal());
    const stopJobs = system.onJobChange((change) => change.runId === runId && signal());
    void stop.then(() => moved.close());
    try {
      let seq = afterSeq;
      let shown = '';
      for (;;) {
        const view = await system.runs.get(runId);
        if (!view) return;
        const events = await system.runs.events(runId, seq);
        const now = snapshotOf(view);
        if (events.length > 0 || now !== shown) {
          await push({ seq: Math.max(view.run.lastSeq, seq), view, events });
          shown = now;
          seq = Math.max(view.run.lastSeq, ...events.map((event) => event.seq), seq);
        }
        if (hasEnded(view)) return;
        const next = await moved.next(recheckMs);
        if (next !== TIMED_OUT && next.done) return;
      }
    } finally {
      stopRuns();
      stopJobs();
      moved.close();
      stop();
    }
  });
}

/** What a subscriber sees of the run: its status and each step's status, job status and progress. */
function snapshotOf({ run, steps }: RunView): string {
  return JSON.stringify([run.status, run.lastSeq, steps.map((step) => [step.status, step.job?.status, step.job?.progress, step.job?.attempt])]);
}

function hasEnded({ run, steps }: RunView): boolean {
  return !isLiveRun(run.status) && !steps.some((step) => step.status === 'ACTIVE');
}

/** A step's progress: its job's while it runs, 100 once done. */
export function stepProgress(step: RunView['steps'][number]): number {
  if (step.status === 'COMPLETED') return 100;
  if (step.status === 'ACTIVE') return step.job?.progress ?? 0;
  return 0;
}

/** The run's progress: its steps' progress averaged, each step (a gate too) weighing the same. */
export function runProgress(view: RunView): number {
  if (view.steps.length === 0) return 0;
  return view.steps.reduce((sum, step) => sum + stepProgress(step), 0) / view.steps.length;
}
