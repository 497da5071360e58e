import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { JOB_EVENTS, type JobEvent, type JobEventsData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';

/**
 * A job's event timeline from the `jobEvents` subscription: the ledger's events from the start,
 * then live, without gaps or duplicates. It completes when the job ends; `round` (from useJob)
 * follows it again after a retry, from the last event seen.
 */
export function useJobEvents(id: string, round: number): { events: JobEvent[]; error: ApiError | null } {
  const { session, reconnects } = useApiState();
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const lastSeq = useRef({ id, seq: 0 });

  useEffect(() => {
    if (lastSeq.current.id !== id) {
      lastSeq.current = { id, seq: 0 };
      setEvents([]);
    }
    return api.subscribe<JobEventsData>(
      JOB_EVENTS,
      { id, afterSeq: lastSeq.current.seq },
      {
        next: ({ jobEvents: event }) => {
          if (event.seq <= lastSeq.current.seq) return;
          lastSeq.current.seq = event.seq;
          setEvents((before) => [...before, event]);
          setError(null);
        },
        error: setError,
      },
    );
  }, [id, round, session, reconnects]);

  return { events, error };
}
