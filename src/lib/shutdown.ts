import type { Logger } from './logger.ts';

/**
 * Stops gracefully on SIGTERM/SIGINT (exit 0 once `stop` resolves); a second signal exits at once.
 * `stop` bounds itself: the job system hands back unfinished jobs after SHUTDOWN_TIMEOUT_MS.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
  let stopping = false;
  for (const signal of signals) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
