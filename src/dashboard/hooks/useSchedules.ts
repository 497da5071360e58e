import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { SCHEDULE_ACTION, SCHEDULES, type ScheduleAction, type ScheduleRow, type SchedulesData } from '../api/schedules.ts';
import { useApiState } from './useApiState.ts';

/** A moment after a tick, so the tick's job is in the ledger when the list is read again. */
const AFTER_TICK_MS = 1_500;
/** Reads again at the soonest tick at most this far ahead (a timer, not a poll: it waits for what is due). */
const LONGEST_WAIT_MS = 10 * 60_000;

/**
 * The schedules, read again after each action here and when the soonest tick has passed (so its
 * new job and next tick show without a reload).
 */
export function useSchedules() {
  const { session } = useApiState();
  const [schedules, setSchedules] = useState<ScheduleRow[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);

  useEffect(() => {
    let current = true;
    api.request<SchedulesData>(SCHEDULES).then(
      (data) => current && (setSchedules(data.schedules), setError(null)),
      (failure: ApiError) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [session, generation]);

  useEffect(() => {
    const soonest = Math.min(...(schedules ?? []).flatMap((s) => (s.nextRunAt ? [Date.parse(s.nextRunAt)] : [])));
    if (!Number.isFinite(soonest)) return;
    const timer = setTimeout(reload, Math.min(LONGEST_WAIT_MS, Math.max(0, soonest - Date.now()) + AFTER_TICK_MS));
    return () => clearTimeout(timer);
  }, [schedules, reload]);

  const act = useCallback(
    async (id: string, action: ScheduleAction) => {
      setPending(`${action}:${id}`);
      setError(null);
      try {
        await api.request(SCHEDULE_ACTION, { id, pause: action === 'pause', resume: action === 'resume', delete: action === 'delete' });
        reload();
      } catch (failure) {
        setError(failure as ApiError);
      } finally {
        setPending(null);
      }
    },
    [reload],
  );

  return { schedules, error, pending, act, reload };
}
