import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON logger for the process; components take `logger.child({ component })`. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid } });
}
