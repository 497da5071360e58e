/**
 * The live side of the API without services: LiveJobs over an in-memory JobService whose bus
 * can drop, repeat or delay changes, as a real bus may.
 */
import { describe, expect, it } from 'vitest';
import { LiveJobs } from '../../src/api/live.ts';
import type { JobChange } from '../../src/events/messages.ts';
import type { Job, JobEvent } from '../../src/jobs/ledger/index.ts';
import type { JobService } from '../../src/jobs/service.ts';
import type { JobStatus } from '../../src/jobs/states.ts';

const JOB_ID = '00000000-0000-4000-8000-000000000001';

/** One job's ledger in memory, and a bus the test drives by hand. */
class FakeLedger {
  job: Job = {
    id: JOB_ID,
    type: 'test.echo',
    phase: 'PLANNING',
    status: 'QUEUED',
    progress: 0,
    message: null,
    input: {},
    result: null,
    errorCode: null,
    errorMessage: null,
    attempt: 0,
    maxAttempts: 3,
    backend: 'INLINE',
    idempotencyKey: null,
    priority: 0,
    runAt: new Date(),
    nextRetryAt: null,
    lockedBy: null,
    heartbeatAt: null,
    dispatchedAt: null,
    queueRef: null,
    lastSeq: 0,
    createdBy: null,
    createdAt: new Date(),
    startedAt: null,
    finishedAt: null,
  } as Job;
  readonly events: JobEvent[] = [];
  readonly listeners = new Set<(change: JobChange) => void>();

  /** Writes a change to the ledger and returns it, without publishing it. */
  write(kind: JobEvent['kind'], status: JobStatus, progress = this.job.progress, extra: Partial<Job> = {}): JobChange {
    const seq = this.job.lastSeq + 1;
    this.job = { ...this.job, ...extra, status, progress, lastSeq: seq, attempt: status === 'RUNNING' && kind === 'STATUS' ? this.job.attempt + 1 : this.job.attempt };
    const at = new Date();
    this.events.push({ jobId: JOB_ID, seq, at, kind, status, progress, message: null, data: null });
    return {
      jobId: JOB_ID,
      type: this.job.type,
      phase: this.job.phase,
      seq,
      at: at.toISOString(),
      kind,
      status,
      progress,
      message: null,
      attempt: this.job.attempt,
      createdBy: null,
      runId: null,
    };
  }

  publish(change: JobChange): void {
    for (const listener of this.listeners) listener(change);
  }

  service(): JobService {
    return {
      getJob: async (id) => (id === JOB_ID ? { ...this.job } : undefined),
      events: async (id, opts = {}) => this.events.filter((e) => e.jobId === id && e.seq > (opts.afterSeq ?? 0)),
      onJobChange: (listener) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
    } as Partial<JobService> as JobService;
  }
}

async function take<T>(iterator: AsyncIterator<T>, n: number): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < n; i++) {
    const next = await iterator.next();
    if (next.done) break;
    values.push(next.value);
  }
  return values;
}

/** Lets the stream's first ledger read and subscription happen. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('LiveJobs.jobEvents', () => {
  it('replays the ledger, then follows the bus, fills a gap from the ledger, drops repeats, ends at a terminal status', async () => {
    const ledger = new FakeLedger();
    ledger.write('STATUS', 'QUEUED');
    const live = new LiveJobs(ledger.service(), { recheckMs: 60_000 });
    const stream = live.jobEvents(JOB_ID)[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value).toMatchObject({ seq: 1, status: 'QUEUED' });
    await settle();

    const running = ledger.write('STATUS', 'RUNNING');
    ledger.publish(running);
    ledger.publish(running); // a repeat
    const lost = ledger.write('PROGRESS', 'RUNNING', 50); // never published
    void lost;
    const done = ledger.write('STATUS', 'COMPLETED', 100);
    ledger.publish(done);

    const rest = await take(stream, 10);
    expect(rest.map((e) => `${e.seq}:${e.kind}:${e.status}`)).toEqual(['2:STATUS:RUNNING', '3:PROGRESS:RUNNING', '4:STATUS:COMPLETED']);
    expect((await stream.next()).done).toBe(true);
  });

  it('reads the ledger again after a quiet bus, so a lost final event still ends the stream', async () => {
    const ledger = new FakeLedger();
    ledger.write('STATUS', 'QUEUED');
    const live = new LiveJobs(ledger.service(), { recheckMs: 50 });
    const stream = live.jobEvents(JOB_ID)[Symbol.asyncIterator]();
    await stream.next();
    await settle();
    ledger.write('STATUS', 'RUNNING');
    ledger.write('STATUS', 'COMPLETED', 100); // the bus lost both
    const rest = await take(stream, 10);
    expect(rest.map((e) => e.status)).toEqual(['RUNNING', 'COMPLETED']);
  });
});

describe('LiveJobs.jobProgress', () => {
  it('merges progress in place and re-reads the job for a status change', async () => {
    const ledger = new FakeLedger();
    ledger.write('STATUS', 'QUEUED');
    const live = new LiveJobs(ledger.service(), { recheckMs: 60_000 });
    const stream = live.jobProgress(JOB_ID)[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ status: 'QUEUED', lastSeq: 1 });
    await settle();
    ledger.publish(ledger.write('STATUS', 'RUNNING'));
    ledger.publish(ledger.write('PROGRESS', 'RUNNING', 40));
    ledger.publish(ledger.write('STATUS', 'COMPLETED', 100, { result: { ok: true } }));
    const rest = await take(stream, 10);
    expect(rest.map((j) => [j.status, j.progress, j.lastSeq])).toEqual([
      ['RUNNING', 0, 2],
      ['RUNNING', 40, 3],
      ['COMPLETED', 100, 4],
    ]);
    expect(rest.at(-1)!.result).toEqual({ ok: true });
  });
});

describe('LiveJobs.jobUpdates', () => {
  it('shows each change as it left the job, even when the ledger has moved on by the time it is read', async () => {
    const ledger = new FakeLedger();
    const live = new LiveJobs(ledger.service(), { recheckMs: 60_000 });
    const stream = live.jobUpdates(() => true)[Symbol.asyncIterator]();
    const firstTwo = take(stream, 3);
    await settle();
    // All three are written before the stream reads the ledger for the first.
    const changes = [ledger.write('STATUS', 'QUEUED'), ledger.write('STATUS', 'RUNNING'), ledger.write('STATUS', 'COMPLETED', 100, { result: 7 })];
    for (const change of changes) ledger.publish(change);
    const seen = await firstTwo;
    expect(seen.map((j) => [j.status, j.lastSeq, j.result])).toEqual([
      ['QUEUED', 1, null],
      ['RUNNING', 2, null],
      ['COMPLETED', 3, 7],
    ]);
    await stream.return?.();
  });
});
