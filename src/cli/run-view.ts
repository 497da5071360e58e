import type * as CliProgress from 'cli-progress';
import { loadCliProgress, percent, table } from './display.ts';
import type { RunView } from './operations.ts';

type RunEvent = { seq: number; step: string | null; status: string; message: string | null; actor: string | null };

/** How `jobgraph run watch` shows a run: a bar per running step on a terminal, a line per event elsewhere. */
export interface RunProgressView {
  update(run: RunView, events: readonly RunEvent[]): void;
  stop(): void;
}

export function createRunProgressView(stream: NodeJS.WriteStream): RunProgressView {
  return stream.isTTY ? new RunBarsView(stream) : new RunLinesView(stream);
}

/** One line per event of the run's history: `12 tests ACTIVE started as job …`, `rev` when someone did it. */
export function eventLine(event: RunEvent): string {
  return [String(event.seq).padStart(3), event.step ?? 'run', event.status, event.message ?? '', event.actor ? `(${event.actor})` : '']
    .filter(Boolean)
    .join(' ');
}

class RunLinesView implements RunProgressView {
  private readonly stream: NodeJS.WriteStream;
  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream;
  }
  update(_: RunView, events: readonly RunEvent[]): void {
    for (const event of events) this.stream.write(`${eventLine(event)}\n`);
  }
  stop(): void {}
}

/** A bar for the run as a whole and one per running step; a step's bar goes when it ends. */
class RunBarsView implements RunProgressView {
  #bars: CliProgress.MultiBar | undefined;
  #total: CliProgress.SingleBar | undefined;
  readonly #steps = new Map<string, CliProgress.SingleBar>();
  private readonly stream: NodeJS.WriteStream;
  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream;
  }

  update(run: RunView, events: readonly RunEvent[]): void {
    if (!this.#bars) {
      const bars = loadCliProgress();
      this.#bars = new bars.MultiBar(
        { stream: this.stream, format: '{name} {bar} {percentage}% {state}', barsize: 24, hideCursor: true, fps: 10, clearOnComplete: false },
        bars.Presets.shades_classic,
      );
    }
    for (const event of events) if (event.actor || event.step === null) this.#bars.log(`${eventLine(event)}\n`);
    const width = Math.max(3, ...run.steps.map((step) => step.name.length));
    const waiting = run.steps.filter((step) => step.status === 'WAITING').map((step) => step.name);
    const state = waiting.length ? `${run.status}: sign-off ${waiting.join(', ')}` : run.status;
    this.#total ??= this.#bars.create(100, 0, { name: 'run'.padEnd(width), state });
    this.#total.update(run.progress, { state });
    for (const step of run.steps) {
      const bar = this.#steps.get(step.name);
      if (step.status === 'ACTIVE') {
        const payload = { name: step.name.padEnd(width), state: step.message ?? '' };
        if (bar) bar.update(step.progress, payload);
        else this.#steps.set(step.name, this.#bars.create(100, step.progress, payload));
      } else if (bar) {
        bar.update(step.progress, { state: step.status });
        this.#bars.remove(bar);
        this.#steps.delete(step.name);
      }
    }
  }

  stop(): void {
    this.#bars?.stop();
    this.#bars = undefined;
  }
}

/** The run's steps as a table: status, progress, and what a gate's decision or a failure says. */
export function runTable(run: RunView): string[] {
  const rows = run.steps.map((step) => {
    const note = step.decision
      ? `${step.decision.decision} by ${step.decision.by ?? '?'}${step.decision.comment ? `: ${step.decision.comment}` : ''}`
      : (step.error ?? step.message ?? '');
    return [step.name, step.kind, step.status, percent(step.progress), String(step.generation), note];
  });
  return [
    `run ${run.id} (${run.workflow}) ${run.status} ${percent(run.progress)}${run.reason ? ` — ${run.reason}` : ''}`,
    ...table(['STEP', 'KIND', 'STATUS', 'PROGRESS', 'GEN', 'NOTE'], rows),
  ];
}
