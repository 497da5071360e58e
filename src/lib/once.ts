/** `fn` run at most once: every call gets the first call's promise (idempotent close). */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
