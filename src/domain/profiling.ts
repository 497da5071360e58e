/**
 * Data profiling, the statistics: one pass over a dataset, a page of records at a time, with a
 * checkpoint after each page, so a retry after a lost worker or a timeout resumes there. The
 * profile is written once, at the end: a run stopped half way writes nothing.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { recordPages, requireDataset } from './datasets.ts';
import { addValue, emptyColumn, finish, type ColumnState, type ColumnStats } from './profiling-stats.ts';
import type { ResumableRun } from './run.ts';

export interface ProfileState {
  afterRow: number;
  rows: number;
  columns: Record<string, ColumnState>;
}

export async function profileDataset(db: PrismaClient, datasetId: string, run: ResumableRun<ProfileState>) {
  const dataset = await requireDataset(db, datasetId);
  const names = dataset.columns.map((c) => c.name);
  const state: ProfileState = run.resumeFrom ?? { afterRow: 0, rows: 0, columns: Object.fromEntries(names.map((n) => [n, emptyColumn()])) };
  if (run.resumeFrom) await run.progress(percent(state.rows, dataset.recordCount), `resuming after row ${state.afterRow.toLocaleString('en')}`);
  for await (const page of recordPages(db, datasetId, state.afterRow)) {
    run.signal.throwIfAborted();
    for (const { data } of page) {
      for (const name of names) addValue((state.columns[name] ??= emptyColumn()), data[name]);
    }
    state.rows += page.length;
    state.afterRow = page.at(-1)!.row;
    await run.checkpoint(state);
    await run.progress(percent(state.rows, dataset.recordCount), `profiled ${state.rows.toLocaleString('en')} of ${dataset.recordCount.toLocaleString('en')} records`);
  }
  const columns: ColumnStats[] = names.map((name) => finish(name, state.columns[name] ?? emptyColumn()));
  run.signal.throwIfAborted();
  await db.datasetProfile.create({ data: { datasetId, rows: state.rows, columns: columns as object[] } });
  await run.progress(100, `${state.rows.toLocaleString('en')} records, ${columns.length} columns`);
  return { rows: state.rows, columns };
}

function percent(done: number, total: number): number {
  return total === 0 ? 99 : Math.min(99, (done / total) * 99);
}
