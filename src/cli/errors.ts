/**
 * What the command line can fail with, and the exit status each one means. Every failure the CLI
 * expects is one of these and is printed as one line, without a stack.
 */
export const EXIT = {
  ok: 0,
  /** The watched job ended FAILED or CANCELLED. */
  jobFailed: 1,
  /** The command line itself is wrong (unknown command or option, missing argument, bad JSON). */
  usage: 2,
  /** The API could not be reached, refused the token, or refused the request. */
  api: 3,
  /** Ctrl-C while watching (128 + SIGINT). */
  interrupted: 130,
} as const;

export abstract class CliError extends Error {
  abstract readonly exitCode: number;
}

/** A mistake on the command line; the message says what to type instead. */
export class UsageError extends CliError {
  readonly exitCode = EXIT.usage;
  /** The command whose `--help` the hint points to. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/**
 * The API did not do what was asked:
 * - `unreachable`: no HTTP answer (connection refused, unknown host, timeout, connection lost);
 * - `auth`: the token is missing, unknown or not allowed (401/403, UNAUTHENTICATED, FORBIDDEN);
 * - `graphql`: the API answered with GraphQL errors (bad input, unknown job or task, …);
 * - `protocol`: something answered, but not as a jobgraph GraphQL API does.
 */
export type ApiErrorKind = 'unreachable' | 'auth' | 'graphql' | 'protocol';

export class ApiError extends CliError {
  readonly exitCode = EXIT.api;
  readonly kind: ApiErrorKind;
  /** The first GraphQL error code, when the API gave one. */
  readonly code: string | undefined;
  constructor(kind: ApiErrorKind, message: string, code?: string) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}
