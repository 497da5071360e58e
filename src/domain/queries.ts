/** What a UI reads of the workflow: reports and what each phase made of them, datasets, the catalog. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { findDataset, findReport } from './lookups.ts';

export type WorkflowReads = ReturnType<typeof workflowReads>;

export function workflowReads(db: PrismaClient) {
  return {
    reports: () => db.report.findMany({ orderBy: { createdAt: 'asc' } }),
    report: (id: string) => findReport(db, id),
    attributes: (reportId: string) => db.attribute.findMany({ where: { reportId }, orderBy: { name: 'asc' } }),
    mappings: (attributeId: string) =>
      db.pdeMapping.findMany({ where: { attributeId }, orderBy: { confidence: 'desc' }, include: { dataElement: true } }),
    recommendation: (attributeId: string) => db.scopingRecommendation.findUnique({ where: { attributeId } }),
    rules: (attributeId: string) => db.profilingRule.findMany({ where: { attributeId }, orderBy: [{ kind: 'asc' }, { id: 'asc' }] }),
    samples: (reportId: string, opts: { datasetId?: string | undefined; first: number; afterRow?: number | undefined }) =>
      db.sample.findMany({
        where: { reportId, ...(opts.datasetId ? { datasetId: opts.datasetId } : {}), ...(opts.afterRow !== undefined ? { row: { gt: opts.afterRow } } : {}) },
        orderBy: [{ datasetId: 'asc' }, { row: 'asc' }],
        take: opts.first,
      }),
    sampleCount: (reportId: string) => db.sample.count({ where: { reportId } }),
    /** The report's completed test runs (one per dataset: a new run replaces the last). */
    testRuns: (reportId: string) => db.testRun.findMany({ where: { reportId, status: 'COMPLETED' }, orderBy: { finishedAt: 'desc' } }),
    testResults: (runId: string, opts: { failedOnly: boolean; first: number }) =>
      db.testResult.findMany({
        where: { runId, ...(opts.failedOnly ? { passed: false } : {}) },
        orderBy: [{ row: 'asc' }, { ruleId: 'asc' }],
        take: opts.first,
        include: { rule: { include: { attribute: { select: { name: true } } } } },
      }),
    datasets: () => db.dataset.findMany({ orderBy: { createdAt: 'asc' } }),
    dataset: (id: string) => findDataset(db, id),
    latestProfile: (datasetId: string) => db.datasetProfile.findFirst({ where: { datasetId }, orderBy: { createdAt: 'desc' } }),
    dataElements: (filter: { table?: string | undefined }) =>
      db.dataElement.findMany({ where: filter.table ? { table: filter.table } : {}, orderBy: [{ dataset: 'asc' }, { table: 'asc' }, { column: 'asc' }] }),
  };
}
