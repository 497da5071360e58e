/**
 * The workflow's data, read only: reports and what each phase made of them, datasets and their
 * profiles, the data catalog. Any signed-in caller (viewer and up) may read it; it changes only
 * through the phase tasks' mutations (operators), so every write is a job with a history.
 */
import type {
  Attribute,
  DataElement,
  Dataset,
  DatasetProfile,
  PdeMapping,
  ProfilingRule,
  Report,
  Sample,
  ScopingRecommendation,
  TestResult,
  TestRun,
} from '../../generated/prisma/client.ts';
import { requireViewer } from '../auth.ts';
import { builder } from './builder.ts';
import { namedEnum } from './enums.ts';

const SampleMethodEnum = namedEnum('SampleMethod', ['RANDOM', 'STRATIFIED', 'RISK_BASED']);
const ScopeDecisionEnum = namedEnum('ScopeDecision', ['IN_SCOPE', 'OUT_OF_SCOPE']);
const RuleKindEnum = namedEnum('RuleKind', ['NOT_NULL', 'RANGE', 'PATTERN', 'ALLOWED_VALUES', 'UNIQUE', 'MAX_LENGTH']);
const SeverityEnum = namedEnum('Severity', ['LOW', 'MEDIUM', 'HIGH']);

const DataElementRef = builder.objectRef<DataElement>('DataElement').implement({
  description: 'A column of the physical data catalog.',
  fields: (t) => ({
    id: t.exposeID('id'),
    dataset: t.exposeString('dataset'),
    table: t.exposeString('table'),
    column: t.exposeString('column'),
    dataType: t.exposeString('dataType'),
    description: t.exposeString('description'),
  }),
});

const PdeMappingRef = builder.objectRef<PdeMapping & { dataElement: DataElement }>('PdeMapping').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    dataElement: t.field({ type: DataElementRef, resolve: (m) => m.dataElement }),
    confidence: t.exposeFloat('confidence'),
    rationale: t.exposeString('rationale'),
    method: t.exposeString('method', { description: 'LLM or HEURISTIC' }),
  }),
});

const ScopingRecommendationRef = builder.objectRef<ScopingRecommendation>('ScopingRecommendation').implement({
  fields: (t) => ({
    decision: t.field({ type: ScopeDecisionEnum, resolve: (r) => r.decision }),
    riskScore: t.exposeFloat('riskScore'),
    rationale: t.exposeString('rationale'),
    method: t.exposeString('method'),
  }),
});

const ProfilingRuleRef = builder.objectRef<ProfilingRule>('ProfilingRule').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    column: t.exposeString('column', { nullable: true, description: 'The dataset column it checks (from the best mapping).' }),
    kind: t.field({ type: RuleKindEnum, resolve: (r) => r.kind }),
    params: t.expose('params', { type: 'JSON' }),
    severity: t.field({ type: SeverityEnum, resolve: (r) => r.severity }),
    rationale: t.exposeString('rationale'),
    method: t.exposeString('method'),
  }),
});

const AttributeRef = builder.objectRef<Attribute>('Attribute').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    dataType: t.exposeString('dataType'),
    isKey: t.exposeBoolean('isKey'),
    isCritical: t.exposeBoolean('isCritical'),
    source: t.exposeString('source', { description: 'LLM, HEURISTIC or MANUAL' }),
    confidence: t.exposeFloat('confidence'),
    mappings: t.field({ type: [PdeMappingRef], resolve: (a, _, ctx) => ctx.workflow.mappings(a.id) }),
    recommendation: t.field({ type: ScopingRecommendationRef, nullable: true, resolve: (a, _, ctx) => ctx.workflow.recommendation(a.id) }),
    rules: t.field({ type: [ProfilingRuleRef], resolve: (a, _, ctx) => ctx.workflow.rules(a.id) }),
  }),
});

const SampleRef = builder.objectRef<Sample>('Sample').implement({
  fields: (t) => ({
    datasetId: t.exposeID('datasetId'),
    row: t.exposeInt('row'),
    stratum: t.exposeString('stratum', { nullable: true }),
    method: t.field({ type: SampleMethodEnum, resolve: (s) => s.method }),
    seed: t.exposeInt('seed'),
  }),
});

type ResultRow = TestResult & { rule: ProfilingRule & { attribute: { name: string } } };
const TestResultRef = builder.objectRef<ResultRow>('TestResult').implement({
  fields: (t) => ({
    row: t.exposeInt('row'),
    attribute: t.string({ resolve: (r) => r.rule.attribute.name }),
    rule: t.field({ type: ProfilingRuleRef, resolve: (r) => r.rule }),
    passed: t.exposeBoolean('passed'),
    actual: t.expose('actual', { type: 'JSON', nullable: true }),
    message: t.exposeString('message', { nullable: true }),
  }),
});

const TestRunRef = builder.objectRef<TestRun>('TestRun').implement({
  description: "A completed execution of the report's rules on one dataset's samples (the latest per dataset).",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The job that ran it.' }),
    datasetId: t.exposeID('datasetId'),
    total: t.exposeInt('total'),
    passed: t.exposeInt('passed'),
    failed: t.exposeInt('failed'),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    results: t.field({
      type: [TestResultRef],
      args: { failedOnly: t.arg.boolean({ defaultValue: false }), first: t.arg.int({ defaultValue: 100 }) },
      resolve: (run, { failedOnly, first }, ctx) => ctx.workflow.testResults(run.id, { failedOnly: failedOnly ?? false, first: clamp(first) }),
    }),
  }),
});

const ReportRef = builder.objectRef<Report>('Report').implement({
  description: 'A regulatory report under test.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    regulation: t.exposeString('regulation'),
    description: t.exposeString('description'),
    attributes: t.field({ type: [AttributeRef], resolve: (r, _, ctx) => ctx.workflow.attributes(r.id) }),
    sampleCount: t.int({ resolve: (r, _, ctx) => ctx.workflow.sampleCount(r.id) }),
    samples: t.field({
      type: [SampleRef],
      args: { datasetId: t.arg.id(), first: t.arg.int({ defaultValue: 100 }), afterRow: t.arg.int() },
      resolve: (r, args, ctx) =>
        ctx.workflow.samples(r.id, { datasetId: args.datasetId ? String(args.datasetId) : undefined, first: clamp(args.first), afterRow: args.afterRow ?? undefined }),
    }),
    testRuns: t.field({ type: [TestRunRef], resolve: (r, _, ctx) => ctx.workflow.testRuns(r.id) }),
  }),
});

const DatasetProfileRef = builder.objectRef<DatasetProfile>('DatasetProfile').implement({
  fields: (t) => ({
    rows: t.exposeInt('rows'),
    columns: t.expose('columns', { type: 'JSON', description: 'Per column: count, nulls, nullRate, distinct, min, max, mean, topValues, patterns.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const DatasetRef = builder.objectRef<Dataset>('Dataset').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    table: t.exposeString('table', { description: 'The catalog table whose columns its records carry.' }),
    columns: t.expose('columns', { type: 'JSON', description: 'The columns in order: [{ name, dataType }].' }),
    recordCount: t.exposeInt('recordCount'),
    profile: t.field({ type: DatasetProfileRef, nullable: true, description: 'The latest profile, if profiled.', resolve: (d, _, ctx) => ctx.workflow.latestProfile(d.id) }),
  }),
});

builder.queryFields((t) => ({
  reports: t.field({
    type: [ReportRef],
    resolve: (_, __, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.workflow.reports();
    },
  }),
  report: t.field({
    type: ReportRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.workflow.report(String(id));
    },
  }),
  datasets: t.field({
    type: [DatasetRef],
    resolve: (_, __, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.workflow.datasets();
    },
  }),
  dataset: t.field({
    type: DatasetRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.workflow.dataset(String(id));
    },
  }),
  dataElements: t.field({
    type: [DataElementRef],
    args: { table: t.arg.string() },
    resolve: (_, { table }, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.workflow.dataElements({ table: table ?? undefined });
    },
  }),
}));

function clamp(first: number | null | undefined): number {
  return Math.min(1_000, Math.max(1, first ?? 100));
}
