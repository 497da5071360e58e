import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { THROUGHPUT, type ThroughputData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';
import { useJobUpdates } from './useJobUpdates.ts';
import { useNow } from './useNow.ts';

export const WINDOW_MINUTES = 60;

export interface Bucket {
  /** Start of the minute, ms since the epoch. */
  start: number;
  completed: number;
  failed: number;
}

export interface ThroughputState {
  buckets: Bucket[];
  loading: boolean;
  error: ApiError | null;
}

/** A job that ended, as the live updates tell it. */
interface Ended {
  status: 'COMPLETED' | 'FAILED';
  finishedAt: string;
}

/**
 * Completed and failed jobs per minute over the last hour: the ledger's tallies (`throughput`,
 * exact however many jobs ended, pruned ones included), read once, plus the jobs that end while the
 * page is open, from the live updates. A job that ends in the moment between the request and its
 * answer may be counted twice; nothing polls.
 */
export function useThroughput(): ThroughputState {
  const { session, reconnects } = useApiState();
  const [read, setRead] = useState<{ buckets: Bucket[]; since: number }>({ buckets: [], since: Infinity });
  const [live, setLive] = useState<ReadonlyMap<string, Ended>>(new Map());
  const [status, setStatus] = useState<{ loading: boolean; error: ApiError | null }>({ loading: true, error: null });
  const now = useNow(15_000);

  useEffect(() => {
    let current = true;
    const since = Date.now();
    api.request<ThroughputData>(THROUGHPUT, { minutes: WINDOW_MINUTES }).then(
      (data) => {
        if (!current) return;
        const buckets = data.throughput.map((b) => ({ start: Date.parse(b.start), completed: b.completed, failed: b.failed }));
        setRead({ buckets, since });
        // What ended before the request is in its answer now.
        setLive((before) => new Map([...before].filter(([, job]) => Date.parse(job.finishedAt) >= since)));
        setStatus({ loading: false, error: null });
      },
      (error: ApiError) => current && setStatus({ loading: false, error }),
    );
    return () => {
      current = false;
    };
  }, [session, reconnects]);

  useJobUpdates((job) => {
    if ((job.status === 'COMPLETED' || job.status === 'FAILED') && job.finishedAt) {
      const ended: Ended = { status: job.status, finishedAt: job.finishedAt };
      setLive((before) => new Map(before).set(job.id, ended));
    }
  });

  const buckets = useMemo(() => bucketize(read.buckets, [...live.values()].filter((job) => Date.parse(job.finishedAt) >= read.since), now), [read, live, now]);
  return { buckets, ...status };
}

/** Completed and failed per minute, oldest first, for the `WINDOW_MINUTES` minutes up to `now`: the tallies read, plus jobs seen ending since. */
export function bucketize(read: Iterable<Bucket>, ended: Iterable<Ended>, now: number): Bucket[] {
  const minute = 60_000;
  const end = Math.floor(now / minute) * minute; // start of the current minute
  const first = end - (WINDOW_MINUTES - 1) * minute;
  const buckets: Bucket[] = Array.from({ length: WINDOW_MINUTES }, (_, i) => ({ start: first + i * minute, completed: 0, failed: 0 }));
  const at = (time: number) => buckets[Math.floor((time - first) / minute)];
  for (const tally of read) {
    const bucket = at(tally.start);
    if (!bucket) continue;
    bucket.completed += tally.completed;
    bucket.failed += tally.failed;
  }
  for (const job of ended) {
    const bucket = at(Date.parse(job.finishedAt));
    if (!bucket) continue;
    if (job.status === 'COMPLETED') bucket.completed++;
    else bucket.failed++;
  }
  return buckets;
}
