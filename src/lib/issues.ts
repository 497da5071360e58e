/** A validation problem at a path in the input (zod's issues, flattened to strings). */
export interface FieldIssue {
  path: string[];
  message: string;
}

export function fieldIssues(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): FieldIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }));
}

/** "a.b: message; (input): message", each path under `prefix`. */
export function describeIssues(issues: readonly FieldIssue[], prefix: readonly string[] = []): string {
  return issues.map((issue) => `${[...prefix, ...issue.path].join('.') || '(input)'}: ${issue.message}`).join('; ');
}
