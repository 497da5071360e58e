/**
 * Loads the demo (demo-data.ts): the report, the catalog and the loan dataset. Safe to run again
 * and to resume: what exists is kept, records are inserted from the first missing row on.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { DEMO_CATALOG, DEMO_DATASET, DEMO_REPORT, demoRecord } from './demo-data.ts';
import type { Run } from './run.ts';

const BATCH = 2_000;
export const DEMO_RECORDS = 100_000;

/** Raw SQL on the same database: the records go in through it (see below). */
export type Sql = (text: string, params?: unknown[]) => Promise<unknown[]>;

export async function seedDemo(db: PrismaClient, sql: Sql, run: Run, records = DEMO_RECORDS) {
  const report = await db.report.upsert({ where: { name: DEMO_REPORT.name }, create: DEMO_REPORT, update: {} });
  await db.dataElement.createMany({ data: DEMO_CATALOG, skipDuplicates: true });
  const dataset = await db.dataset.upsert({
    where: { name: DEMO_DATASET.name },
    create: { name: DEMO_DATASET.name, description: DEMO_DATASET.description, table: DEMO_DATASET.table, columns: DEMO_DATASET.columns },
    update: {},
  });
  const [{ max }] = await db.$queryRawUnsafe<{ max: number | null }[]>(
    `SELECT max("row") AS max FROM "DatasetRecord" WHERE "datasetId" = $1::uuid`,
    dataset.id,
  ) as [{ max: number | null }];
  for (let from = (max ?? 0) + 1; from <= records; from += BATCH) {
    run.signal.throwIfAborted();
    const rows = Array.from({ length: Math.min(BATCH, records - from + 1) }, (_, i) => from + i);
    // Raw, not through Prisma: its $executeRawUnsafe kept ~1.3 MB of every 2,000-row batch until
    // the job ended (a worker's heap grew to ~250 MB over the 100,000 records; measured).
    await sql(
      `INSERT INTO "DatasetRecord" ("datasetId", "row", "data")
       SELECT $1::uuid, r, d FROM unnest($2::int[], $3::jsonb[]) AS t(r, d) ON CONFLICT DO NOTHING`,
      [dataset.id, rows, rows.map((row) => JSON.stringify(demoRecord(row)))],
    );
    const loaded = rows.at(-1)!;
    await db.dataset.update({ where: { id: dataset.id }, data: { recordCount: loaded } });
    await run.progress((loaded / records) * 100, `loaded ${loaded.toLocaleString('en')} of ${records.toLocaleString('en')} records`);
  }
  const recordCount = await db.datasetRecord.count({ where: { datasetId: dataset.id } });
  // Fresh statistics, or the planner may scan the whole table for every page it is asked for.
  await db.$executeRawUnsafe(`ANALYZE "DatasetRecord"`);
  await db.dataset.update({ where: { id: dataset.id }, data: { recordCount } });
  return { reportId: report.id, datasetId: dataset.id, dataElements: DEMO_CATALOG.length, records: recordCount };
}
