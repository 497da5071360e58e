/**
 * Test execution: the report's rules against its samples of a dataset, every result recorded.
 * A run is the job's (TestRun.id = the job id): results go in as it goes, a checkpoint after
 * each batch, and a retry of the same job resumes the same run. Its results become the report's
 * only when it completes (the previous run dropped in the same transaction); a cancelled run is
 * discarded whole.
 */
import { z } from 'zod';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { recordsAt, requireDataset } from './datasets.ts';
import { requireReport } from './planning.ts';
import { checkValue, type RuleKind } from './rule-checks.ts';
import { UnfitRequestError, type ResumableRun } from './run.ts';

const BATCH = 500;
/**
 * Results go in statements of this many rows, each its own: one createMany of a whole batch
 * (14,500 rows) is split by Prisma into several INSERTs in one transaction, which on the embedded
 * ledger (one session, shared) holds every other reader for as long as the worker takes to
 * build them (near a second). 1,000 rows is one INSERT of 7,000 parameters.
 */
const RESULT_ROWS_PER_STATEMENT = 500;

export interface TestState {
  afterRow: number;
}

export const testStateSchema = z.object({ afterRow: z.number().int().min(0) }) satisfies z.ZodType<TestState>;

export async function executeTests(db: PrismaClient, runId: string, reportId: string, datasetId: string, run: ResumableRun<TestState>) {
  await requireReport(db, reportId);
  const dataset = await requireDataset(db, datasetId);
  const rules = (await db.profilingRule.findMany({ where: { attribute: { reportId } }, orderBy: { id: 'asc' } })).filter(
    (rule) => rule.column !== null && dataset.has(rule.column),
  );
  const samples = await db.sample.findMany({ where: { reportId, datasetId }, select: { row: true }, orderBy: { row: 'asc' } });
  if (samples.length === 0) throw new UnfitRequestError(`report ${reportId} has no samples of dataset ${dataset.name}: select samples first`);
  if (rules.length === 0) throw new UnfitRequestError(`report ${reportId} has no rules on the columns of dataset ${dataset.name}: generate profiling rules first`);

  await db.testRun.upsert({ where: { id: runId }, create: { id: runId, reportId, datasetId }, update: {} });
  const state: TestState = run.resumeFrom ?? { afterRow: 0 };
  const todo = samples.map((s) => s.row).filter((row) => row > state.afterRow);
  const done = samples.length - todo.length;
  for (let i = 0; i < todo.length; i += BATCH) {
    run.signal.throwIfAborted();
    const rows = todo.slice(i, i + BATCH);
    const records = await recordsAt(db, datasetId, rows);
    const occurrences = await countOccurrences(db, datasetId, rules.filter((r) => r.kind === 'UNIQUE').map((r) => r.column!), rows.map((row) => records.get(row)));
    const results = rows.flatMap((row) =>
      rules.map((rule) => {
        const value = records.get(row)?.[rule.column!] ?? null;
        const verdict = checkValue({ kind: rule.kind as RuleKind, params: rule.params as Record<string, unknown> }, value, occurrences.get(`${rule.column}\u0000${String(value)}`));
        return { runId, ruleId: rule.id, row, passed: verdict.passed, actual: value === null ? undefined : (value as object), message: verdict.message };
      }),
    );
    // skipDuplicates: a resumed batch may have been written, whole or in part, before the checkpoint was.
    for (let at = 0; at < results.length; at += RESULT_ROWS_PER_STATEMENT) {
      await db.testResult.createMany({ data: results.slice(at, at + RESULT_ROWS_PER_STATEMENT), skipDuplicates: true });
    }
    state.afterRow = rows.at(-1)!;
    await run.checkpoint(state);
    const tested = done + i + rows.length;
    await run.progress((tested / samples.length) * 98, `tested ${tested.toLocaleString('en')} of ${samples.length.toLocaleString('en')} samples against ${rules.length} rules`);
  }
  run.signal.throwIfAborted();
  const [total, passed] = await Promise.all([db.testResult.count({ where: { runId } }), db.testResult.count({ where: { runId, passed: true } })]);
  await db.$transaction([
    db.testRun.update({ where: { id: runId }, data: { status: 'COMPLETED', total, passed, failed: total - passed, finishedAt: new Date() } }),
    db.testRun.deleteMany({ where: { reportId, datasetId, id: { not: runId } } }),
  ]);
  await run.progress(100, `${total} results: ${passed} passed, ${total - passed} failed`);
  return { total, passed, failed: total - passed, samples: samples.length, rules: rules.length };
}

/** Drops a run and its results: what a cancelled run leaves. */
export async function discardTestRun(db: PrismaClient, runId: string): Promise<void> {
  await db.testRun.deleteMany({ where: { id: runId, status: 'RUNNING' } });
}

/** How many records of the dataset hold each value of these columns that the batch has (for UNIQUE rules). */
async function countOccurrences(
  db: PrismaClient,
  datasetId: string,
  columns: string[],
  records: (Record<string, unknown> | undefined)[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const column of new Set(columns)) {
    const values = [...new Set(records.map((r) => r?.[column]).filter((v) => v !== null && v !== undefined && v !== '').map(String))];
    if (values.length === 0) continue;
    const rows = await db.$queryRawUnsafe<{ value: string; n: number }[]>(
      `SELECT data->>$2 AS value, count(*)::int AS n FROM "DatasetRecord" WHERE "datasetId" = $1::uuid AND data->>$2 = ANY($3::text[]) GROUP BY 1`,
      datasetId,
      column,
      values,
    );
    for (const row of rows) counts.set(`${column}\u0000${row.value}`, row.n);
  }
  return counts;
}
