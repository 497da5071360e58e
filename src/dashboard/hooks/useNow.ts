import { useEffect, useState } from 'preact/hooks';

/** The time, re-rendered every `everyMs`: for ages and sliding windows (a local clock, not a poll). */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
