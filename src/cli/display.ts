import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';
import type { JobView } from './operations.ts';

let cliProgress: typeof CliProgress | undefined;
/** cli-progress, loaded when the first bar is drawn (on a terminal only): a command that draws none does not load it. */
export const loadCliProgress = (): typeof CliProgress => (cliProgress ??= createRequire(import.meta.url)('cli-progress') as typeof CliProgress);

export type { JobView };

export type JobStatus = JobView['status'];
export const JOB_STATUSES: readonly JobStatus[] = ['QUEUED', 'RUNNING', 'RETRYING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const TERMINAL: ReadonlySet<JobStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
export const isTerminal = (status: JobStatus) => TERMINAL.has(status);

/** What `watch` shows while a job runs: a bar on a terminal, a line per change elsewhere. */
export interface ProgressView {
  update(job: JobView): void;
  /** A line about the watch itself (reconnecting…), outside the bar. */
  note(line: string): void;
  /** Leaves the last state on screen and gives the terminal back (cursor shown). Idempotent. */
  stop(): void;
}

/**
 * A bar (cli-progress) when `stream` is a terminal; otherwise one line per change
 * (`42% step 3/7`). cli-progress draws nothing without a TTY, and its `noTTYOutput` mode prints
 * the bar on a timer instead: the same line again while nothing changes, and nothing of a change
 * that comes and goes between two ticks. A line per change prints each state exactly once, in
 * order, whatever the timing: readable in a pipe or a CI log, and testable.
 */
export function createProgressView(stream: NodeJS.WriteStream): ProgressView {
  return stream.isTTY ? new BarView(stream) : new LineView(stream);
}

/** `42%`, never 100% before the job says 100. */
export const percent = (progress: number) => `${Math.floor(Math.min(100, Math.max(0, progress)))}%`;

/** The words after the percentage: the job's message, with the status unless it is RUNNING with a message. */
function stateText(job: JobView): string {
  const status = job.status === 'RUNNING' && job.message ? '' : job.status;
  const retry = job.status === 'RETRYING' ? retryText(job) : '';
  return [status, job.message ?? '', retry].filter(Boolean).join(' ');
}

function retryText(job: JobView): string {
  const failed = job.error ? `attempt ${job.attempt}/${job.maxAttempts} failed: ${job.error.code} ${job.error.message}` : '';
  const next = job.nextRetryAt ? `next at ${clock(job.nextRetryAt)}` : '';
  return [failed, next].filter(Boolean).join('; ');
}

class LineView implements ProgressView {
  #last = '';
  private readonly stream: NodeJS.WriteStream;
  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream;
  }

  update(job: JobView): void {
    const line = `${percent(job.progress).padStart(4)} ${stateText(job)}`.trimEnd();
    if (line === this.#last) return;
    this.#last = line;
    this.stream.write(`${line}\n`);
  }

  note(line: string): void {
    this.stream.write(`${line}\n`);
  }

  stop(): void {}
}

class BarView implements ProgressView {
  #bar: CliProgress.SingleBar | undefined;
  private readonly stream: NodeJS.WriteStream;
  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream;
  }

  update(job: JobView): void {
    const payload = { state: stateText(job) };
    if (!this.#bar) {
      const bars = loadCliProgress();
      this.#bar = new bars.SingleBar(
        {
          stream: this.stream,
          format: '{bar} {percentage}% {state}',
          barCompleteChar: '\u2588',
          barIncompleteChar: '\u2591',
          barsize: 30,
          hideCursor: true,
          // Redraws at most 10 times a second, and at once on stop(): the final state is drawn.
          fps: 10,
        },
        bars.Presets.shades_classic,
      );
      this.#bar.start(100, job.progress, payload);
    } else {
      this.#bar.update(job.progress, payload);
    }
  }

  note(line: string): void {
    // A bar redraws its own line: end it, say it, and draw a new one at the next update.
    this.stop();
    this.stream.write(`${line}\n`);
  }

  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}

/** The outcome of a finished job, for people: the status, then the result or the error. */
export function outcomeLines(job: JobView): string[] {
  const took = job.finishedAt ? ` in ${duration(job.startedAt ?? job.createdAt, job.finishedAt)}` : '';
  const attempts = job.attempt > 1 ? ` (attempt ${job.attempt}/${job.maxAttempts})` : '';
  const error = job.error ? `: ${job.error.code} ${job.error.message}` : '';
  const lines = [`${job.status}${took}${attempts}${error}`];
  if (job.status === 'COMPLETED' && job.result !== undefined && job.result !== null) lines.push(formatJson(job.result));
  return lines;
}

/** Compact JSON when it fits a line, indented when it does not. */
export function formatJson(value: unknown): string {
  const compact = JSON.stringify(value);
  return compact.length <= 100 ? compact : JSON.stringify(value, null, 2);
}

function duration(from: string, to: string): string {
  const ms = Math.max(0, Date.parse(to) - Date.parse(from));
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 60 ? `${minutes} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** `2026-12-01 05:18:37` (UTC, as the API gives it). */
export const timestamp = (iso: string) => iso.replace('T', ' ').slice(0, 19);
const clock = (iso: string) => iso.slice(11, 19);

/** Left-aligned columns two spaces apart, a header row first; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
