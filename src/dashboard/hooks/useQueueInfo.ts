import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { QUEUE_INFO, type Limit, type QueueInfo, type QueueInfoData } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';
import { useJobUpdates } from './useJobUpdates.ts';
import { useThrottled } from './useThrottled.ts';

export interface QueueInfoState {
  info: QueueInfo | null;
  /** The shared limits, read with `info`. */
  limits: Limit[];
  /** When `info` was read (heartbeat ages are relative to it). */
  fetchedAt: number | null;
  error: ApiError | null;
  refresh: () => void;
}

/**
 * `queueInfo`: backend, probes, bus, ledger, counts and workers, and the shared limits. Nothing polls: it is read again
 * when jobs change (the jobUpdates subscription, at most once a second), when the live connection
 * comes back, and on demand (`refresh`).
 */
export function useQueueInfo(): QueueInfoState {
  const { session, reconnects } = useApiState();
  const [state, setState] = useState<Omit<QueueInfoState, 'refresh'>>({ info: null, limits: [], fetchedAt: null, error: null });
  const asked = useRef(0);
  const refresh = useCallback(() => {
    const ask = ++asked.current;
    api.request<QueueInfoData>(QUEUE_INFO).then(
      (data) => ask === asked.current && setState({ info: data.queueInfo, limits: data.limits, fetchedAt: Date.now(), error: null }),
      (error: ApiError) => ask === asked.current && setState((before) => ({ ...before, error })),
    );
  }, []);
  useEffect(refresh, [refresh, session, reconnects]);
  useJobUpdates(useThrottled(refresh, 1_000));
  return { ...state, refresh };
}
