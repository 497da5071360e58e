import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api/client.ts';
import { JOB_UPDATES, type JobSummary, type JobUpdatesData, type Phase } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';

/**
 * Calls `onJob` with every change of every job the caller may see (the `jobUpdates`
 * subscription), optionally of one phase or task. Each caller has its own subscription; they
 * share the client's one WebSocket.
 */
export function useJobUpdates(onJob: (job: JobSummary) => void, filter: { phase?: Phase | undefined; type?: string | undefined } = {}): void {
  const { session } = useApiState();
  const latest = useRef(onJob);
  latest.current = onJob;
  const { phase, type } = filter;
  useEffect(
    () =>
      api.subscribe<JobUpdatesData>(
        JOB_UPDATES,
        { ...(phase ? { phase } : {}), ...(type ? { type } : {}) },
        { next: (data) => latest.current(data.jobUpdates) },
      ),
    [phase, type, session],
  );
}
