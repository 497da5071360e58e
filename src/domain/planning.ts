/**
 * Planning: the report's attributes, proposed from its description and the data catalog, and
 * their mappings to physical data elements. Each operation writes its results in one
 * transaction at the end, replacing the previous ones: run again, it gives the same state;
 * stopped half way, it leaves the previous results whole.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LlmClient } from './llm/client.ts';
import { attributesRequest, mappingsRequest, type AttributeFacts, type CatalogElement } from './llm/requests.ts';
import { findReport } from './lookups.ts';
import { askEach, llmReport, type AskingRun } from './ask-each.ts';
import { NotFoundError, type Run } from './run.ts';
import { mostSimilar } from './similarity.ts';

/** Candidates per attribute sent to the LLM: the catalog narrowed by word overlap, so prompts stay small. */
const MAPPING_CANDIDATES = 12;

export async function requireReport(db: PrismaClient, reportId: string) {
  const report = await findReport(db, reportId);
  if (!report) throw new NotFoundError('report', reportId);
  return report;
}

export async function catalog(db: PrismaClient): Promise<CatalogElement[]> {
  return db.dataElement.findMany({ orderBy: [{ dataset: 'asc' }, { table: 'asc' }, { column: 'asc' }] });
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
export async function regenerateMappings(db: PrismaClient, llm: LlmClient, reportId: string, run: AskingRun) {
  await requireReport(db, reportId);
  const attributes = await db.attribute.findMany({ where: { reportId }, orderBy: { name: 'asc' } });
  const elements = await catalog(db);
  const asked = await askEach(
    llm,
    run,
    attributes,
    (attribute) =>
      mappingsRequest(facts(attribute), mostSimilar(`${attribute.name} ${attribute.description}`, elements, (e) => `${e.table} ${e.column} ${e.description}`, MAPPING_CANDIDATES)),
    (attribute, answer, request, position) => {
      // Only elements it was shown, once each: a model may name an id it made up.
      const shown = new Set(request.context.candidates.map((c) => c.id));
      const kept = answer.value.mappings.filter((m) => shown.delete(m.dataElementId));
      return {
        result: kept.map((mapping) => ({ attributeId: attribute.id, ...mapping, method: answer.method })),
        message: `mapped ${position} attributes: ${attribute.name} → ${kept.length}`,
      };
    },
  );
  const mappings = asked.results.flat();
  run.signal.throwIfAborted();
  await db.$transaction([
    db.pdeMapping.deleteMany({ where: { attribute: { reportId } } }),
    db.pdeMapping.createMany({ data: mappings }),
  ]);
  await run.progress(100, `${mappings.length} mappings for ${attributes.length} attributes`);
  return { mappings: mappings.length, attributes: attributes.length, ...llmReport(asked) };
}

export function facts(attribute: { name: string; description: string; dataType: string; isKey: boolean; isCritical: boolean }): AttributeFacts {
  const { name, description, dataType, isKey, isCritical } = attribute;
  return { name, description, dataType, isKey, isCritical };
}

function dedupeByName<T extends { name: string }>(items: T[]): T[] {
  return [...new Map(items.map((item) => [item.name.trim(), { ...item, name: item.name.trim() }])).values()];
}
