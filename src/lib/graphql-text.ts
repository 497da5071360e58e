/**
 * An operation's text with the fragments it spreads. Each part stays a `/* GraphQL *\/` template of
 * its own, which is how graphql-codegen finds it (a template joined with `+` is not read).
 */
export function withFragments(operation: string, ...fragments: string[]): string {
  return [operation, ...fragments].join('\n');
}
