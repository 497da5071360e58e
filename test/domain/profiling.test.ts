/**
 * The profiler against statistics computed here, independently, on a small dataset in a real
 * PostgreSQL; and a run stopped after its first page that resumes from its checkpoint and gives
 * the same profile as an unbroken run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type LedgerDb } from '../../src/db/client.ts';
import { PAGE_ROWS } from '../../src/domain/datasets.ts';
import { profileDataset, type ProfileState } from '../../src/domain/profiling.ts';
import { patternOf } from '../../src/domain/profiling-stats.ts';
import type { ResumableRun } from '../../src/domain/run.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const ROWS = PAGE_ROWS * 2 + 345;
const CODES = ['AA', 'BB', 'CC', 'DD'];

function record(row: number): Record<string, unknown> {
  return {
    id: `R${row}`,
    amount: row % 10 === 0 ? null : (row * 37) % 1000,
    code: row % 7 === 0 ? '' : CODES[row % CODES.length],
    day: `2026-${String(1 + (row % 12)).padStart(2, '0')}-${String(1 + (row % 28)).padStart(2, '0')}`,
  };
}

describe('profileDataset', () => {
  let database: TestDatabase;
  let ledger: LedgerDb;
  let datasetId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    ledger = await openLedger({ databaseUrl: database.url, migrate: false });
    const dataset = await ledger.prisma.dataset.create({
      data: {
        name: 'small',
        table: 't',
        recordCount: ROWS,
        columns: [
          { name: 'id', dataType: 'STRING' },
          { name: 'amount', dataType: 'DECIMAL' },
          { name: 'code', dataType: 'CODE' },
          { name: 'day', dataType: 'DATE' },
        ],
      },
    });
    datasetId = dataset.id;
    const rows = Array.from({ length: ROWS }, (_, i) => i + 1);
    await ledger.query(
      `INSERT INTO "DatasetRecord" ("datasetId", "row", "data") SELECT $1::uuid, r, d FROM unnest($2::int[], $3::jsonb[]) AS t(r, d)`,
      [datasetId, rows, rows.map((row) => JSON.stringify(record(row)))],
    );
  });
  afterAll(async () => {
    await ledger?.close();
    await database?.drop();
  });

  function runner(opts: { resumeFrom?: ProfileState; stopAfterPages?: number } = {}) {
    const controller = new AbortController();
    const saved: ProfileState[] = [];
    const run: ResumableRun<ProfileState> = {
      signal: controller.signal,
      resumeFrom: opts.resumeFrom,
      progress: async () => {},
      checkpoint: async (state) => {
        // What the ledger would keep: the state as JSON, not the live object.
        saved.push(JSON.parse(JSON.stringify(state)) as ProfileState);
        if (opts.stopAfterPages !== undefined && saved.length >= opts.stopAfterPages) controller.abort(new Error('worker lost'));
      },
    };
    return { run, saved };
  }

  it('computes what an independent count of the records says', async () => {
    const { run } = runner();
    const { rows, columns } = await profileDataset(ledger.prisma, ledger.query, datasetId, run);
    expect(rows).toBe(ROWS);
    const all = Array.from({ length: ROWS }, (_, i) => record(i + 1));
    const stats = Object.fromEntries(columns.map((c) => [c.column, c]));

    const amounts = all.map((r) => r.amount).filter((a): a is number => a !== null);
    expect(stats.amount).toMatchObject({
      count: ROWS,
      nulls: ROWS - amounts.length,
      min: Math.min(...amounts),
      max: Math.max(...amounts),
      distinctExact: false,
    });
    expect(stats.amount!.mean).toBeCloseTo(amounts.reduce((a, b) => a + b, 0) / amounts.length, 9);
    // Above the sketch's exact range the distinct count is an estimate: within 15 %.
    expect(Math.abs(stats.amount!.distinct - new Set(amounts).size) / new Set(amounts).size).toBeLessThan(0.15);

    const codes = all.map((r) => r.code as string).filter((c) => c !== '');
    const counts = new Map<string, number>();
    for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
    expect(stats.code).toMatchObject({ nulls: ROWS - codes.length, distinct: counts.size, distinctExact: true, min: 'AA', max: 'DD' });
    expect(stats.code!.topValues).toEqual([...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1)));
    expect(stats.code!.patterns).toEqual([{ pattern: 'AA', count: codes.length }]);

    const days = all.map((r) => r.day as string).sort();
    expect(stats.day).toMatchObject({ min: days[0], max: days.at(-1), nulls: 0, mean: null });
    expect(stats.day!.patterns).toEqual([{ pattern: patternOf('2026-01-01'), count: ROWS }]);
    expect(stats.id!.distinct).toBeGreaterThan(ROWS * 0.85);
  });

  it('resumes from its checkpoint after a stop, with the same profile as an unbroken run', async () => {
    const unbroken = await profileDataset(ledger.prisma, ledger.query, datasetId, runner().run);
    const first = runner({ stopAfterPages: 1 });
    await expect(profileDataset(ledger.prisma, ledger.query, datasetId, first.run)).rejects.toThrow('worker lost');
    const checkpoint = first.saved.at(-1)!;
    expect(checkpoint).toMatchObject({ afterRow: PAGE_ROWS, rows: PAGE_ROWS });
    const profilesBefore = await ledger.prisma.datasetProfile.count({ where: { datasetId } });
    const resumed = await profileDataset(ledger.prisma, ledger.query, datasetId, runner({ resumeFrom: checkpoint }).run);
    expect(resumed).toEqual(unbroken);
    // The stopped run wrote no profile; the resumed one wrote one.
    expect(await ledger.prisma.datasetProfile.count({ where: { datasetId } })).toBe(profilesBefore + 1);
  });
});
