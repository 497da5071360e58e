/** Reads without the ORM (TaskContext.sql): for streaming many rows. */
export type Sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

/** What a domain operation gets from whoever runs it (a job, a test, a script). */
export interface Run {
  /** Reports progress 0–100 with a message a person can read. */
  progress(percent: number, message: string): Promise<void>;
  /** Aborted when the run must stop; operations check it between units of work. */
  signal: AbortSignal;
}

/** A run that can save where it is and start again from there. */
export interface ResumableRun<S> extends Run {
  /** What the last run saved, if it ended before finishing. */
  resumeFrom: S | undefined;
  checkpoint(state: S): Promise<void>;
}

/** An id that names nothing: a clear error, never retried. */
export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND';
  readonly what: string;
  readonly id: string;
  constructor(what: string, id: string) {
    super(`${what} ${id} does not exist`);
    this.what = what;
    this.id = id;
    this.name = 'NotFoundError';
  }
}

/** Input that names real things but cannot be done (e.g. more samples than records). */
export class UnfitRequestError extends Error {
  readonly code = 'UNFIT_REQUEST';
  constructor(message: string) {
    super(message);
    this.name = 'UnfitRequestError';
  }
}
