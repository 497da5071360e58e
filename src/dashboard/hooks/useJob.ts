import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { JOB, JOB_PROGRESS, type JobData, type JobDetail, type JobProgressData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';

export interface JobState {
  /** undefined while loading, null when there is no such job (or not one the caller may see). */
  job: JobDetail | null | undefined;
  error: ApiError | null;
  /** Takes a newer state of the job (a mutation's answer) and follows it again if it came back to life. */
  update: (job: JobDetail) => void;
  /** Bumped each time the job is followed afresh (after a retry). */
  round: number;
}

const later = (a: JobDetail | null | undefined, b: JobDetail) => (!a || b.lastSeq >= a.lastSeq ? b : a);

/**
 * One job, read once and then followed by the `jobProgress` subscription (which completes when the
 * job ends). A retry brings a job back: `update` with the retried job subscribes again.
 */
export function useJob(id: string): JobState {
  const { session, reconnects } = useApiState();
  const [job, setJob] = useState<JobDetail | null | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => setJob(undefined), [id]);

  useEffect(() => {
    let current = true;
    let unsubscribe: (() => void) | undefined;
    api.request<JobData>(JOB, { id }).then(
      (data) => {
        if (!current) return;
        setError(null);
        setJob((before) => (data.job ? later(before, data.job) : null));
        if (!data.job) return;
        unsubscribe = api.subscribe<JobProgressData>(
          JOB_PROGRESS,
          { id, afterSeq: data.job.lastSeq },
          { next: (next) => setJob((before) => later(before, next.jobProgress)), error: setError },
        );
      },
      (failure: ApiError) => current && setError(failure),
    );
    return () => {
      current = false;
      unsubscribe?.();
    };
  }, [id, round, session, reconnects]);

  const update = useCallback((next: JobDetail) => {
    setJob((before) => later(before, next));
    setRound((r) => r + 1);
  }, []);

  return { job, error, update, round };
}
