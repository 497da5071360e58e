import { useCallback, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { CANCEL_JOB, RETRY_JOB, type CancelJobData, type JobDetail, type RetryJobData } from '../api/operations.ts';

export type JobAction = 'cancel' | 'retry';

/** Cancel and retry one job; the answer (the job after it) goes to `onJob`. */
export function useJobActions(id: string, onJob: (job: JobDetail) => void) {
  const [pending, setPending] = useState<JobAction | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const run = useCallback(
    async (action: JobAction) => {
      setPending(action);
      setError(null);
      try {
        const job =
          action === 'cancel'
            ? (await api.request<CancelJobData>(CANCEL_JOB, { id })).cancelJob
            : (await api.request<RetryJobData>(RETRY_JOB, { id })).retryJob.job;
        onJob(job);
      } catch (failure) {
        setError(failure as ApiError);
      } finally {
        setPending(null);
      }
    },
    [id, onJob],
  );

  return { cancel: () => run('cancel'), retry: () => run('retry'), pending, error };
}
