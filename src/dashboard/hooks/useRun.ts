import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { RUN, RUN_PROGRESS, type RunData, type RunDetail, type RunHistoryEvent, type RunProgressData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';

export interface RunState {
  /** undefined while loading, null when there is no such run (or not one the caller may see). */
  run: RunDetail | null | undefined;
  /** Its history, in seq order: each step's moves, gate decisions, the run's own status. */
  events: RunHistoryEvent[];
  error: ApiError | null;
  /** Takes a newer state of the run (a mutation's answer) and follows it again. */
  update: (run: RunDetail) => void;
}

const later = (a: RunDetail | null | undefined, b: RunDetail) => (!a || b.lastSeq >= a.lastSeq ? b : a);

/** Appends events it does not have yet, by seq. */
function merged(known: RunHistoryEvent[], more: readonly RunHistoryEvent[]): RunHistoryEvent[] {
  const last = known.at(-1)?.seq ?? 0;
  const fresh = more.filter((event) => event.seq > last);
  return fresh.length ? [...known, ...fresh] : known;
}

/**
 * One run, read once and then followed by `runProgress` (the run after every change of it or of
 * its steps' jobs, with its history since the last update; it completes once the run has ended).
 */
export function useRun(id: string): RunState {
  const { session, reconnects } = useApiState();
  const [run, setRun] = useState<RunDetail | null | undefined>(undefined);
  const [events, setEvents] = useState<RunHistoryEvent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => {
    setRun(undefined);
    setEvents([]);
  }, [id]);

  useEffect(() => {
    let current = true;
    let unsubscribe: (() => void) | undefined;
    api.request<RunData>(RUN, { id }).then(
      (data) => {
        if (!current) return;
        setError(null);
        if (!data.run) return setRun(null);
        const { events: history, ...found } = data.run;
        setRun((before) => later(before, found));
        setEvents((known) => merged(known, history));
        unsubscribe = api.subscribe<RunProgressData>(
          RUN_PROGRESS,
          { id, afterSeq: found.lastSeq },
          {
            next: ({ runProgress }) => {
              setRun((before) => later(before, runProgress.run));
              setEvents((known) => merged(known, runProgress.events));
            },
            error: setError,
          },
        );
      },
      (failure: ApiError) => current && setError(failure),
    );
    return () => {
      current = false;
      unsubscribe?.();
    };
  }, [id, round, session, reconnects]);

  const update = useCallback((next: RunDetail) => {
    setRun((before) => later(before, next));
    setRound((r) => r + 1);
  }, []);

  return { run, events, error, update };
}
