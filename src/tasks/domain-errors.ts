/**
 * The domain's errors as the job system needs them: an id that names nothing or a request that
 * cannot be done fails at once, clearly; a provider's Retry-After becomes the time of the retry;
 * output a model kept getting wrong fails at once (the client already asked again).
 */
import { LlmOutputError, LlmRateLimitedError } from '../domain/llm/index.ts';
import { findDataset, findReport } from '../domain/lookups.ts';
import { NotFoundError, UnfitRequestError } from '../domain/run.ts';
import { NonRetryableError, RetryAtError } from '../jobs/errors.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { FieldIssue } from '../lib/issues.ts';

export async function asJobErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof UnfitRequestError) throw new NonRetryableError(error.message, error.code, { cause: error });
    if (error instanceof LlmOutputError) throw new NonRetryableError(error.message, error.code, { cause: error });
    if (error instanceof LlmRateLimitedError) throw new RetryAtError(error.retryAt, error.message, error.code, { cause: error });
    throw error;
  }
}

/**
 * An enqueue-time check that the report and dataset a task names exist: an issue per id field
 * that names no row.
 */
export async function unknownIds(db: PrismaClient, ids: { reportId?: string; datasetId?: string }): Promise<FieldIssue[]> {
  const issues: FieldIssue[] = [];
  if (ids.reportId !== undefined && !(await findReport(db, ids.reportId))) {
    issues.push({ path: ['reportId'], message: `no report with id ${ids.reportId}` });
  }
  if (ids.datasetId !== undefined && !(await findDataset(db, ids.datasetId))) {
    issues.push({ path: ['datasetId'], message: `no dataset with id ${ids.datasetId}` });
  }
  return issues;
}
