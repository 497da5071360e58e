import { useCallback, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { ENQUEUE_JOB, type EnqueueJobData } from '../api/operations.ts';

export interface EnqueueOptions {
  priority?: number | undefined;
  delayMs?: number | undefined;
}

/** `enqueueJob`: resolves to the new job's id (or the existing one's, when deduplicated). */
export function useEnqueue() {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const enqueue = useCallback(async (type: string, input: unknown, options: EnqueueOptions = {}): Promise<string | null> => {
    setPending(true);
    setError(null);
    try {
      const data = await api.request<EnqueueJobData>(ENQUEUE_JOB, { type, input, ...options });
      return data.enqueueJob.job.id;
    } catch (failure) {
      setError(failure as ApiError);
      return null;
    } finally {
      setPending(false);
    }
  }, []);
  return { enqueue, pending, error };
}
