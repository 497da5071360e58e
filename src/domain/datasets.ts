/** Reading a dataset's records a page at a time, by row: never the whole dataset in memory. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { findDataset } from './lookups.ts';
import { NotFoundError, type Sql } from './run.ts';

/**
 * 500: on the embedded ledger (one session) a page's statement holds every other reader for as
 * long as it runs; 1,000-row pages left the API's ledger reads at p99 97–190 ms beside
 * profileDataset, 500-row pages at 64–93 ms, for 10 % fewer rows/s on PostgreSQL (BENCHMARKS.md §8).
 */
export const PAGE_ROWS = 500;

/** Dataset.columns, in order (an array: jsonb does not keep the order of an object's keys). */
export interface DatasetColumn {
  name: string;
  dataType: string;
}

export async function requireDataset(db: PrismaClient, datasetId: string) {
  const dataset = await findDataset(db, datasetId);
  if (!dataset) throw new NotFoundError('dataset', datasetId);
  const columns = dataset.columns as unknown as DatasetColumn[];
  return { ...dataset, columns, has: (name: string) => columns.some((c) => c.name === name) };
}

/**
 * Records after `afterRow`, in row order, PAGE_ROWS at a time: keyset paging on the primary key,
 * through `sql` (the driver parses each record once; the ORM's raw path costs several copies).
 */
export async function* recordPages(sql: Sql, datasetId: string, afterRow = 0): AsyncGenerator<{ row: number; data: Record<string, unknown> }[]> {
  let after = afterRow;
  for (;;) {
    const page = await sql<{ row: number; data: Record<string, unknown> }>(
      `SELECT "row", data FROM "DatasetRecord" WHERE "datasetId" = $1::uuid AND "row" > $2 ORDER BY "datasetId", "row" LIMIT ${PAGE_ROWS}`,
      [datasetId, after],
    );
    if (page.length === 0) return;
    yield page;
    after = page.at(-1)!.row;
    if (page.length < PAGE_ROWS) return;
  }
}

/** The records of these rows. */
export async function recordsAt(db: PrismaClient, datasetId: string, rows: number[]): Promise<Map<number, Record<string, unknown>>> {
  const found = await db.$queryRawUnsafe<{ row: number; data: Record<string, unknown> }[]>(
    `SELECT "row", data FROM "DatasetRecord" WHERE "datasetId" = $1::uuid AND "row" = ANY($2::int[])`,
    datasetId,
    rows,
  );
  return new Map(found.map((r) => [r.row, r.data]));
}
