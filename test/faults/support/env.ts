/**
 * Settings of every process in the suite: short heartbeats and sweep bounds so recoveries show in
 * seconds, not minutes. Where a scenario checks a default (Redis flushed: within 60 s), it says so.
 */
export const FAULT_ENV: Record<string, string> = {
  QUEUE_NAME: 'faults',
  WORKER_CONCURRENCY: '20',
  HEARTBEAT_MS: '1000',
  STALE_AFTER_MS: '5000',
  DISPATCH_INTERVAL_MS: '500',
  REDISPATCH_AFTER_MS: '10000',
  SHUTDOWN_TIMEOUT_MS: '5000',
  RETRY_BASE_MS: '2000',
  LOG_LEVEL: 'info',
};

