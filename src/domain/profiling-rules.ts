/** Data profiling, the rules: per attribute, the data-quality rules its values must keep. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LlmClient } from './llm/client.ts';
import { rulesRequest } from './llm/requests.ts';
import { askEach, llmReport, type AskingRun } from './ask-each.ts';
import { facts, requireReport } from './planning.ts';

export async function generateRules(db: PrismaClient, llm: LlmClient, reportId: string, run: AskingRun) {
  await requireReport(db, reportId);
  const attributes = await db.attribute.findMany({
    where: { reportId },
    orderBy: { name: 'asc' },
    include: { mappings: { include: { dataElement: true }, orderBy: { confidence: 'desc' }, take: 1 } },
  });
  const asked = await askEach(
    llm,
    run,
    attributes,
    (attribute) => rulesRequest(facts(attribute), attribute.mappings[0]?.dataElement ?? null),
    (attribute, answer, request, position) => ({
      result: answer.value.rules.map((rule) => ({
        attributeId: attribute.id,
        column: request.context.element?.column ?? null,
        kind: rule.kind,
        params: rule.params as object,
        severity: rule.severity,
        rationale: rule.rationale,
        method: answer.method,
      })),
      message: `rules for ${position}: ${attribute.name} (${answer.value.rules.length})`,
    }),
  );
  const rules = asked.results.flat();
  run.signal.throwIfAborted();
  await db.$transaction([db.profilingRule.deleteMany({ where: { attribute: { reportId } } }), db.profilingRule.createMany({ data: rules })]);
  await run.progress(100, `${rules.length} rules for ${attributes.length} attributes`);
  return { rules: rules.length, attributes: attributes.length, ...llmReport(asked) };
}
