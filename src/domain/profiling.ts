/**
 * Data profiling, the statistics: one pass over a dataset, a page of records at a time, with a
 * checkpoint after each page, so a retry after a lost worker or a timeout resumes there. The
 * profile is written once, at the end: a run stopped half way writes nothing.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { recordPages, requireDataset } from './datasets.ts';
import { z } from 'zod';
import { ColumnProfile, columnStateSchema, type ColumnState, type ColumnStats } from './profiling-stats.ts';
import type { ResumableRun, Sql } from './run.ts';

/** The checkpoint: where the pass is, and the statistics so far (ColumnProfile writes itself as a ColumnState). */
export interface ProfileState {
  afterRow: number;
  rows: number;
  columns: Record<string, ColumnState>;
}

export const profileStateSchema = z.object({
  afterRow: z.number().int().min(0),
  rows: z.number().int().min(0),
  columns: z.record(z.string(), columnStateSchema),
}) satisfies z.ZodType<ProfileState>;

export async function profileDataset(db: PrismaClient, sql: Sql, datasetId: string, run: ResumableRun<ProfileState>) {
  const dataset = await requireDataset(db, datasetId);
  const names = dataset.columns.map((c) => c.name);
  const resumed = run.resumeFrom;
  const profiles = new Map(names.map((name) => [name, resumed?.columns[name] ? ColumnProfile.from(resumed.columns[name]) : new ColumnProfile()]));
  const at = { afterRow: resumed?.afterRow ?? 0, rows: resumed?.rows ?? 0 };
  if (resumed) await run.progress(percent(at.rows, dataset.recordCount), `resuming after row ${at.afterRow.toLocaleString('en')}`);
  for await (const page of recordPages(sql, datasetId, at.afterRow)) {
    run.signal.throwIfAborted();
    for (const { data } of page) {
      for (const [name, profile] of profiles) profile.add(data[name]);
    }
    at.rows += page.length;
    at.afterRow = page.at(-1)!.row;
    await run.checkpoint({ ...at, columns: Object.fromEntries(profiles) as unknown as Record<string, ColumnState> });
    await run.progress(percent(at.rows, dataset.recordCount), `profiled ${at.rows.toLocaleString('en')} of ${dataset.recordCount.toLocaleString('en')} records`);
  }
  const columns: ColumnStats[] = names.map((name) => profiles.get(name)!.finish(name));
  run.signal.throwIfAborted();
  await db.datasetProfile.create({ data: { datasetId, rows: at.rows, columns: columns as object[] } });
  await run.progress(100, `${at.rows.toLocaleString('en')} records, ${columns.length} columns`);
  return { rows: at.rows, columns };
}

function percent(done: number, total: number): number {
  return total === 0 ? 99 : Math.min(99, (done / total) * 99);
}
