/**
 * Sample selection: which records of a dataset testing looks at. Reproducible: the same method,
 * seed and records give the same rows and the same checksum, on any machine.
 *
 * - RANDOM: uniform, without replacement.
 * - STRATIFIED: by the values of one column (default: the dataset's first CODE column), each
 *   stratum in proportion to its size (largest remainders), uniform inside it.
 * - RISK_BASED: weighted toward risky records: missing values, delinquency (a *past_due* column
 *   above 0, a status of DELINQUENT or DEFAULT), and large amounts (log scale).
 */
import { createHash } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { recordPages, requireDataset } from './datasets.ts';
import { requireReport } from './planning.ts';
import { seededRandom, weightedChoice } from './random.ts';
import { UnfitRequestError, type Run, type Sql } from './run.ts';

export type SampleMethod = 'RANDOM' | 'STRATIFIED' | 'RISK_BASED';

export interface SampleRequest {
  reportId: string;
  datasetId: string;
  size: number;
  method: SampleMethod;
  seed: number;
  /** STRATIFIED: the column whose values are the strata. */
  stratifyBy?: string | undefined;
}

export async function selectSamples(db: PrismaClient, sql: Sql, request: SampleRequest, run: Run) {
  const { reportId, datasetId, size, method, seed } = request;
  await requireReport(db, reportId);
  const dataset = await requireDataset(db, datasetId);
  if (size > dataset.recordCount) {
    throw new UnfitRequestError(`size ${size} is more than the ${dataset.recordCount} records of dataset ${dataset.name}`);
  }
  const stratumColumn =
    method === 'STRATIFIED' ? (request.stratifyBy ?? dataset.columns.find((c) => c.dataType === 'CODE')?.name) : undefined;
  if (method === 'STRATIFIED' && (!stratumColumn || !dataset.has(stratumColumn))) {
    throw new UnfitRequestError(`dataset ${dataset.name} has no column ${JSON.stringify(stratumColumn ?? null)} to stratify by`);
  }

  // One pass over the records keeps only (row, weight, stratum): a few numbers per record.
  const rows: { row: number; weight: number; stratum: string | null }[] = [];
  for await (const page of recordPages(sql, datasetId)) {
    run.signal.throwIfAborted();
    for (const { row, data } of page) {
      rows.push({ row, weight: method === 'RISK_BASED' ? riskWeight(data) : 1, stratum: stratumColumn ? String(data[stratumColumn] ?? '(missing)') : null });
    }
    await run.progress((rows.length / Math.max(1, dataset.recordCount)) * 80, `read ${rows.length.toLocaleString('en')} of ${dataset.recordCount.toLocaleString('en')} records`);
  }

  const random = seededRandom(seed);
  const chosen: { row: number; stratum: string | null }[] = [];
  if (method === 'STRATIFIED') {
    const strata = new Map<string, typeof rows>();
    for (const r of rows) {
      const members = strata.get(r.stratum!);
      if (members) members.push(r);
      else strata.set(r.stratum!, [r]);
    }
    const names = [...strata.keys()].sort();
    for (const [name, quota] of allocate(names.map((n) => [n, strata.get(n)!.length] as const), size)) {
      for (const row of weightedChoice(strata.get(name)!, quota, random)) chosen.push({ row, stratum: name });
    }
  } else {
    for (const row of weightedChoice(rows, size, random)) chosen.push({ row, stratum: null });
  }
  chosen.sort((a, b) => a.row - b.row);
  run.signal.throwIfAborted();
  await run.progress(90, `writing ${chosen.length} samples`);
  await db.$transaction([
    db.sample.deleteMany({ where: { reportId, datasetId } }),
    db.sample.createMany({ data: chosen.map(({ row, stratum }) => ({ reportId, datasetId, row, stratum, method, seed })) }),
  ]);
  const checksum = createHash('sha256').update(`${method}:${seed}:${stratumColumn ?? ''}:${chosen.map((c) => `${c.row}/${c.stratum ?? ''}`).join(',')}`).digest('hex');
  const strata = stratumColumn ? Object.fromEntries([...new Set(chosen.map((c) => c.stratum!))].sort().map((s) => [s, chosen.filter((c) => c.stratum === s).length])) : undefined;
  await run.progress(100, `${chosen.length} samples (${method.toLowerCase()}, seed ${seed})`);
  return { selected: chosen.length, checksum, method, seed, ...(stratumColumn ? { stratifiedBy: stratumColumn, strata } : {}) };
}

/** Sizes per stratum in proportion, summing to `size`: floors first, then the largest remainders. */
export function allocate(strata: readonly (readonly [string, number])[], size: number): [string, number][] {
  const total = strata.reduce((sum, [, n]) => sum + n, 0);
  const shares = strata.map(([name, n]) => ({ name, n, exact: (n / total) * size }));
  const quotas = shares.map((s) => ({ ...s, quota: Math.min(s.n, Math.floor(s.exact)) }));
  let left = size - quotas.reduce((sum, q) => sum + q.quota, 0);
  for (const q of [...quotas].sort((a, b) => b.exact - Math.floor(b.exact) - (a.exact - Math.floor(a.exact)) || (a.name < b.name ? -1 : 1))) {
    if (left === 0) break;
    if (q.quota < q.n) {
      q.quota++;
      left--;
    }
  }
  return quotas.map((q) => [q.name, q.quota]);
}

function riskWeight(data: Record<string, unknown>): number {
  let weight = 1;
  let largest = 0;
  for (const [column, value] of Object.entries(data)) {
    if (value === null || value === '') weight += 2;
    else if (/past_due/.test(column) && Number(value) > 0) weight += 3;
    else if (column === 'status' && (value === 'DELINQUENT' || value === 'DEFAULT')) weight += 3;
    else if (typeof value === 'number' && /amount|balance|value/.test(column)) largest = Math.max(largest, Math.abs(value));
  }
  return weight + Math.log10(1 + largest) / 2;
}
