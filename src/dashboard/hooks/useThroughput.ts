import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { FINISHED_JOBS, type FinishedJob, type FinishedJobsData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';
import { useJobUpdates } from './useJobUpdates.ts';
import { useNow } from './useNow.ts';

export const WINDOW_MINUTES = 60;
/**
 * How many finished jobs are read. `jobs` lists newest *created* first, 200 a page, and has no
 * finishedAt filter: the chart reads the latest 500 COMPLETED or FAILED jobs and buckets their
 * finishedAt. That is exact unless more than 500 jobs finished in the hour (then `truncated`), or
 * a job created before the 500th finished within the hour (a long one): an acceptable
 * approximation for a glance. Jobs that finish while the page is open arrive by subscription.
 */
const LIMIT = 500;
const PAGE = 200;

export interface Bucket {
  /** Start of the minute, ms since the epoch. */
  start: number;
  completed: number;
  failed: number;
}

export interface ThroughputState {
  buckets: Bucket[];
  loading: boolean;
  truncated: boolean;
  error: ApiError | null;
}

export function useThroughput(): ThroughputState {
  const { session, reconnects } = useApiState();
  const [jobs, setJobs] = useState<ReadonlyMap<string, FinishedJob>>(new Map());
  const [status, setStatus] = useState<{ loading: boolean; truncated: boolean; error: ApiError | null }>({ loading: true, truncated: false, error: null });
  const now = useNow(15_000);

  useEffect(() => {
    let current = true;
    (async () => {
      const found = new Map<string, FinishedJob>();
      let after: string | null = null;
      let more = true;
      while (more && found.size < LIMIT) {
        const data: FinishedJobsData = await api.request<FinishedJobsData>(FINISHED_JOBS, { first: Math.min(PAGE, LIMIT - found.size), after });
        for (const job of data.jobs.nodes) found.set(job.id, job);
        ({ hasNextPage: more, endCursor: after } = data.jobs.pageInfo);
      }
      return { found, truncated: more };
    })().then(
      ({ found, truncated }) => {
        if (!current) return;
        setJobs((live) => new Map([...found, ...live]));
        setStatus({ loading: false, truncated, error: null });
      },
      (error: ApiError) => current && setStatus({ loading: false, truncated: false, error }),
    );
    return () => {
      current = false;
    };
  }, [session, reconnects]);

  useJobUpdates((job) => {
    if ((job.status === 'COMPLETED' || job.status === 'FAILED') && job.finishedAt) {
      setJobs((before) => new Map(before).set(job.id, { id: job.id, status: job.status, finishedAt: job.finishedAt }));
    }
  });

  const buckets = useMemo(() => bucketize(jobs.values(), now), [jobs, now]);
  return { buckets, ...status };
}

/** Completed and failed per minute, oldest first, for the `WINDOW_MINUTES` minutes up to `now`. */
export function bucketize(jobs: Iterable<FinishedJob>, now: number): Bucket[] {
  const minute = 60_000;
  const end = Math.floor(now / minute) * minute; // start of the current minute
  const first = end - (WINDOW_MINUTES - 1) * minute;
  const buckets: Bucket[] = Array.from({ length: WINDOW_MINUTES }, (_, i) => ({ start: first + i * minute, completed: 0, failed: 0 }));
  for (const job of jobs) {
    if (!job.finishedAt) continue;
    const index = Math.floor((Date.parse(job.finishedAt) - first) / minute);
    const bucket = buckets[index];
    if (!bucket) continue;
    if (job.status === 'COMPLETED') bucket.completed++;
    else if (job.status === 'FAILED') bucket.failed++;
  }
  return buckets;
}
