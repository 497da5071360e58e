import { Repeater } from '@repeaterjs/repeater';
import type { JobChange } from '../events/messages.ts';
import type { Job, JobEvent } from '../jobs/ledger/index.ts';
import { isTerminal } from '../jobs/states.ts';
import { AsyncQueue, TIMED_OUT } from '../lib/async-queue.ts';
import type { JobService } from '../jobs/service.ts';

/**
 * The live side of the API: GraphQL subscriptions built from the ledger (the truth, for the
 * first state and for replay) and the event bus (for what happens next). Every stream is ordered
 * by the job's event seq: anything the bus dropped or delivered late is read back from the ledger,
 * and nothing is sent twice.
 */
export class LiveJobs {
  readonly #reads = new Map<string, Promise<Job | undefined>>();
  readonly #recheckMs: number;
  readonly #router: Router;

  /**
   * `recheckMs`: a job stream quiet on the bus for this long reads the ledger again. The bus is
   * best effort; a lost final event would otherwise leave its subscriber waiting forever.
   */
  private readonly system: JobService;
  constructor(system: JobService, opts: { recheckMs?: number } = {}) {
    this.system = system;
    this.#recheckMs = opts.recheckMs ?? 3_000;
    this.#router = new Router(system);
  }

  /** Events of a job after `afterSeq`, replayed from the ledger, then live; ends after a terminal status. */
  jobEvents(jobId: string, afterSeq = 0): Repeater<JobEvent> {
    const { system } = this;
    return this.#stream<JobEvent>(jobId, async (feed, push) => {
      let last = afterSeq;
      const catchUp = async (): Promise<boolean> => {
        for (const event of await system.events(jobId, { afterSeq: last })) {
          await push(event);
          last = event.seq;
        }
        const job = await system.getJob(jobId);
        return !job || (isTerminal(job.status) && last >= job.lastSeq);
      };
      if (await catchUp()) return;
      for (let change = await feed.next(this.#recheckMs); change; change = await feed.next(this.#recheckMs)) {
        if (change === QUIET) {
          if (await catchUp()) return;
          continue;
        }
        if (change.seq <= last) continue;
        if (change.seq > last + 1) {
          if (await catchUp()) return; // the bus skipped some: the ledger has them
          continue;
        }
        await push(eventOf(change));
        last = change.seq;
        if (change.kind === 'STATUS' && isTerminal(change.status)) return;
      }
    });
  }

  /** The job now, then after every change; ends after a terminal state. */
  jobProgress(jobId: string, afterSeq = 0): Repeater<Job> {
    return this.#stream<Job>(jobId, async (feed, push) => {
      let job = await this.system.getJob(jobId);
      if (!job) return;
      await push(job);
      if (isTerminal(job.status)) return;
      let last = Math.max(job.lastSeq, afterSeq);
      for (let change = await feed.next(this.#recheckMs); change; change = await feed.next(this.#recheckMs)) {
        let next: Job | undefined;
        if (change === QUIET) {
          // Quiet on the bus: a change it lost is in the ledger.
          next = await this.system.getJob(jobId);
          if (next && next.lastSeq <= last) continue;
        } else {
          if (change.seq <= last) continue;
          next = change.seq === last + 1 && isMinor(change) ? merge(job, change) : await this.jobAt(change);
        }
        if (!next) return;
        job = next;
        last = job.lastSeq;
        await push(job);
        if (isTerminal(job.status)) return;
      }
    });
  }

  /** Every job change that passes `accept`, as the job after it. */
  jobUpdates(accept: (change: JobChange) => boolean): Repeater<Job> {
    return new Repeater<Job>(async (push, stop) => {
      const feed = new Feed((deliver) =>
        this.#router.listen(undefined, (change) => {
          if (accept(change)) deliver(change);
        }),
      );
      void stop.then(() => feed.close());
      try {
        for (let change = await feed.next(); change; change = await feed.next()) {
          if (change === QUIET) continue;
          const job = await this.jobAt(change);
          if (job) await push(job);
        }
      } finally {
        feed.close();
        stop();
      }
    });
  }

  /**
   * The job as of `change`, read from the ledger once per change for all the subscribers of this
   * process. A job that moved on since is shown as the change left it (status, progress, attempt),
   * so a subscriber sees every status in order, not the latest one twice.
   */
  async jobAt(change: JobChange): Promise<Job | undefined> {
    const key = `${change.jobId}:${change.seq}`;
    let read = this.#reads.get(key);
    if (!read) {
      read = this.system.getJob(change.jobId);
      this.#reads.set(key, read);
      setTimeout(() => this.#reads.delete(key), 2_000).unref();
    }
    const job = await read;
    return job && job.lastSeq > change.seq ? asOf(job, change) : job;
  }

  #stream<T>(jobId: string, body: (feed: Feed, push: (value: T) => Promise<unknown>) => Promise<void>): Repeater<T> {
    return new Repeater<T>(async (push, stop) => {
      // Listen before reading the ledger, so nothing falls between the read and the first change.
      const feed = new Feed((deliver) => this.#router.listen(jobId, deliver));
      void stop.then(() => feed.close());
      try {
        await body(feed, push);
      } finally {
        feed.close();
        stop();
      }
    });
  }
}

/** Progress and log lines change no more than progress and message: the job can be updated in place. */
function isMinor(change: JobChange): boolean {
  return change.kind === 'PROGRESS' || change.kind === 'LOG';
}

function merge(job: Job, change: JobChange): Job {
  return {
    ...job,
    progress: change.progress,
    message: change.kind === 'PROGRESS' && change.message !== null ? change.message : job.message,
    lastSeq: change.seq,
  };
}

/** `job` (read later) as `change` left it: what a change carries, and no outcome before it ended. */
function asOf(job: Job, change: JobChange): Job {
  const ended = isTerminal(change.status);
  return {
    ...job,
    status: change.status,
    progress: change.progress,
    attempt: change.attempt,
    lastSeq: change.seq,
    result: ended ? job.result : null,
    finishedAt: ended ? job.finishedAt : null,
  };
}

function eventOf(change: JobChange): JobEvent {
  return {
    jobId: change.jobId,
    seq: change.seq,
    at: new Date(change.at),
    kind: change.kind,
    status: change.status,
    progress: change.progress,
    message: change.message,
    data: null,
  };
}

/** What Feed.next answers when nothing came within the time asked. */
const QUIET = Symbol('quiet');

/**
 * The bus's job changes, routed: one listener on the bus for this process, and a change goes to
 * the feeds of its job only (and to those that follow every job), not through a filter per feed.
 */
class Router {
  readonly #byJob = new Map<string, Set<(change: JobChange) => void>>();
  readonly #everyJob = new Set<(change: JobChange) => void>();
  #unsubscribe: (() => void) | undefined;

  private readonly system: JobService;
  constructor(system: JobService) {
    this.system = system;
  }

  /** Calls `deliver` with the changes of `jobId` (undefined: of every job); returns the stop function. */
  listen(jobId: string | undefined, deliver: (change: JobChange) => void): () => void {
    this.#unsubscribe ??= this.system.onJobChange((change) => this.#route(change));
    let own = this.#everyJob;
    if (jobId !== undefined) {
      own = this.#byJob.get(jobId) ?? new Set();
      this.#byJob.set(jobId, own);
    }
    own.add(deliver);
    return () => {
      own.delete(deliver);
      if (jobId !== undefined && own.size === 0 && this.#byJob.get(jobId) === own) this.#byJob.delete(jobId);
      if (this.#byJob.size === 0 && this.#everyJob.size === 0) {
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
      }
    };
  }

  #route(change: JobChange): void {
    const listeners = this.#byJob.get(change.jobId);
    if (listeners) for (const deliver of listeners) deliver(change);
    for (const deliver of this.#everyJob) deliver(change);
  }
}

/**
 * The bus changes one subscription wants, buffered. A subscriber that falls more than `limit`
 * behind loses the oldest; the seq gap sends it back to the ledger for them.
 */
class Feed {
  readonly #queue: AsyncQueue<JobChange>;
  readonly #unsubscribe: () => void;

  /** `listen` starts the changes this feed wants and returns how to stop them. */
  constructor(listen: (deliver: (change: JobChange) => void) => () => void, limit = 10_000) {
    this.#queue = new AsyncQueue({ limit });
    this.#unsubscribe = listen((change) => this.#queue.push(change));
  }

  /** The next change; undefined once closed; QUIET when none came within `quietMs`. */
  async next(quietMs?: number): Promise<JobChange | undefined | typeof QUIET> {
    const next = await this.#queue.next(quietMs);
    if (next === TIMED_OUT) return QUIET;
    return next.done ? undefined : next.value;
  }

  close(): void {
    this.#unsubscribe();
    this.#queue.close();
  }
}
