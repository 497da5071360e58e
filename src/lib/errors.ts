/**
 * An error with a stable `code`, the base of every intended failure in jobgraph: the GraphQL edge
 * exposes the code as `extensions.code` (anything else is masked), and the ledger stores it as a
 * job's error code.
 */
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** More for a client than the code, as GraphQL extensions (none by default). */
  get details(): Record<string, unknown> {
    return {};
  }
}

/** The message of anything thrown, for logs and probe details. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return String(error);
}
