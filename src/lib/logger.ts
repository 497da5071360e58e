/**
 * One logger per process; components take `logger.child({ component })`. JSON lines, one a log, for
 * whatever reads stdout (a log shipper, a test); pino-pretty's lines for a person at a terminal.
 * `LOG_FORMAT` decides: `auto` (the default) pretty when stdout is a terminal, `json`, `pretty`.
 * The processes `npm start` supervises inherit its stdout, so they choose as it does.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

/** Loads a package when a format needs it, not when this module loads. */
const loadModule = createRequire(import.meta.url);

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What `setting` (LOG_FORMAT) writes, given whether stdout is a terminal. */
export function chooseLogFormat(setting: LogFormat, isTTY: boolean): 'json' | 'pretty' {
  switch (setting) {
    case 'auto':
      return isTTY ? 'pretty' : 'json';
    case 'json':
    case 'pretty':
      return setting;
    default: {
      const unknown: never = setting;
      throw new Error(`unknown log format ${String(unknown)}`);
    }
  }
}

/** LOG_FORMAT as written; unset is `auto`, anything else not allowed is an error naming it. */
export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === '') return 'auto';
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new Error(`LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}; got ${JSON.stringify(value)}`);
}

export function createLogger(
  level: string = process.env.LOG_LEVEL ?? 'info',
  format: LogFormat = parseLogFormat(process.env.LOG_FORMAT),
): Logger {
  const options = { level, base: { pid: process.pid } };
  if (chooseLogFormat(format, process.stdout.isTTY === true) === 'json') return pino(options);
  // Loaded only for pretty lines (a terminal, or LOG_FORMAT=pretty): a process writing JSON never
  // loads pino-pretty (about 7 MiB, see BENCHMARKS.md §13). Synchronously: so is createLogger.
  const pretty = loadModule('pino-pretty') as typeof PinoPretty;
  // In this thread and synchronous (not a transport's worker thread): a line is on the terminal
  // before the next statement, and the last ones before an exit are not lost.
  return pino(
    options,
    pretty({
      sync: true,
      colorize: pretty.isColorSupported,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'component',
      messageFormat: '{if component}{component}: {end}{msg}',
    }),
  );
}
