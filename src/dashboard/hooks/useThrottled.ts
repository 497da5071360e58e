import { useEffect, useMemo, useRef } from 'preact/hooks';

/** `fn` at most once per `ms`: the first call at once, the last one of a burst at the end. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  latest.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const last = useRef(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useMemo(
    () => () => {
      if (timer.current !== undefined) return;
      const wait = Math.max(0, last.current + ms - Date.now());
      timer.current = setTimeout(() => {
        timer.current = undefined;
        last.current = Date.now();
        latest.current();
      }, wait);
    },
    [ms],
  );
}
