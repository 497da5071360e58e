/**
 * Planning: the report's attributes, proposed from its description and the data catalog, and
 * their mappings to physical data elements. Each operation writes its results in one
 * transaction at the end, replacing the previous ones: run again, it gives the same state;
 * stopped half way, it leaves the previous results whole.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LlmClient, LlmMethod, LlmUsage } from './llm/client.ts';
import { attributesRequest, mappingsRequest, type AttributeFacts, type CatalogElement } from './llm/requests.ts';
import { NotFoundError, type Run } from './run.ts';
import { mostSimilar } from './similarity.ts';

/** Candidates per attribute sent to the LLM: the catalog narrowed by word overlap, so prompts stay small. */
const MAPPING_CANDIDATES = 12;

export interface LlmSummary {
  method: LlmMethod;
  model: string;
  usage: LlmUsage;
}

export async function requireReport(db: PrismaClient, reportId: string) {
  const report = await db.report.findUnique({ where: { id: reportId } }).catch(() => null);
  if (!report) throw new NotFoundError('report', reportId);
  return report;
}

export async function catalog(db: PrismaClient): Promise<CatalogElement[]> {
  return db.dataElement.findMany({ orderBy: [{ dataset: 'asc' }, { table: 'asc' }, { column: 'asc' }] });
}

export function summary(method: LlmMethod, model: string): LlmSummary & { add(usage: LlmUsage): void } {
  const usage = { promptTokens: 0, completionTokens: 0 };
  return {
    method,
    model,
    usage,
    add(more) {
      usage.promptTokens += more.promptTokens;
      usage.completionTokens += more.completionTokens;
    },
  };
}

/** Asks for the report's attributes and makes them its attributes (new ones added, others kept by name, the rest removed). */
export async function generateAttributes(db: PrismaClient, llm: LlmClient, reportId: string, run: Run) {
  const report = await requireReport(db, reportId);
  const elements = await catalog(db);
  await run.progress(10, `asking for the attributes of "${report.name}" (${elements.length} catalog elements)`);
  const answer = await llm.complete(attributesRequest(report, elements), { signal: run.signal });
  const proposed = dedupeByName(answer.value.attributes);
  run.signal.throwIfAborted();
  await run.progress(80, `writing ${proposed.length} attributes`);
  await db.$transaction(async (tx) => {
    await tx.attribute.deleteMany({ where: { reportId, name: { notIn: proposed.map((a) => a.name) } } });
    for (const attribute of proposed) {
      const fields = { ...attribute, source: answer.method };
      await tx.attribute.upsert({ where: { reportId_name: { reportId, name: attribute.name } }, create: { reportId, ...fields }, update: fields });
    }
  });
  await run.progress(100, `${proposed.length} attributes`);
  return { attributes: proposed.length, method: answer.method, model: answer.model, usage: answer.usage };
}

/** Per attribute, the data elements that hold it; all the report's mappings replaced at once. */
export async function regenerateMappings(db: PrismaClient, llm: LlmClient, reportId: string, run: Run) {
  await requireReport(db, reportId);
  const attributes = await db.attribute.findMany({ where: { reportId }, orderBy: { name: 'asc' } });
  const elements = await catalog(db);
  const byId = new Map(elements.map((e) => [e.id, e]));
  const llmSummary = summary(llm.method, '');
  const mappings: { attributeId: string; dataElementId: string; confidence: number; rationale: string; method: string }[] = [];
  for (const [i, attribute] of attributes.entries()) {
    run.signal.throwIfAborted();
    const candidates = mostSimilar(`${attribute.name} ${attribute.description}`, elements, (e) => `${e.table} ${e.column} ${e.description}`, MAPPING_CANDIDATES);
    const answer = await llm.complete(mappingsRequest(facts(attribute), candidates), { signal: run.signal });
    llmSummary.model = answer.model;
    llmSummary.add(answer.usage);
    const allowed = new Set(candidates.map((c) => c.id));
    const seen = new Set<string>();
    for (const mapping of answer.value.mappings) {
      // Only elements it was shown, once each: a model may name an id it made up.
      if (!allowed.has(mapping.dataElementId) || seen.has(mapping.dataElementId) || !byId.has(mapping.dataElementId)) continue;
      seen.add(mapping.dataElementId);
      mappings.push({ attributeId: attribute.id, ...mapping, method: answer.method });
    }
    await run.progress(((i + 1) / attributes.length) * 95, `mapped ${i + 1} of ${attributes.length} attributes: ${attribute.name} → ${seen.size}`);
  }
  run.signal.throwIfAborted();
  await db.$transaction([
    db.pdeMapping.deleteMany({ where: { attribute: { reportId } } }),
    db.pdeMapping.createMany({ data: mappings }),
  ]);
  await run.progress(100, `${mappings.length} mappings for ${attributes.length} attributes`);
  return { mappings: mappings.length, attributes: attributes.length, method: llmSummary.method, model: llmSummary.model, usage: llmSummary.usage };
}

export function facts(attribute: { name: string; description: string; dataType: string; isKey: boolean; isCritical: boolean }): AttributeFacts {
  const { name, description, dataType, isKey, isCritical } = attribute;
  return { name, description, dataType, isKey, isCritical };
}

function dedupeByName<T extends { name: string }>(items: T[]): T[] {
  return [...new Map(items.map((item) => [item.name.trim(), { ...item, name: item.name.trim() }])).values()];
}
