/** Scoping: per attribute, its risk and whether testing covers it, with the reason. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LlmClient } from './llm/client.ts';
import { scopingRequest } from './llm/requests.ts';
import { askEach, llmReport, type AskingRun } from './ask-each.ts';
import { facts, requireReport } from './planning.ts';

export async function generateRecommendations(db: PrismaClient, llm: LlmClient, reportId: string, run: AskingRun) {
  const report = await requireReport(db, reportId);
  const attributes = await db.attribute.findMany({
    where: { reportId },
    orderBy: { name: 'asc' },
    include: { mappings: { include: { dataElement: true }, orderBy: { confidence: 'desc' } } },
  });
  const asked = await askEach(
    llm,
    run,
    attributes,
    (attribute) => scopingRequest(report, facts(attribute), attribute.mappings.map((m) => m.dataElement)),
    (attribute, answer, _, position) => ({
      result: { attributeId: attribute.id, ...answer.value, method: answer.method },
      message: `scored ${position}: ${attribute.name} ${answer.value.decision} (risk ${answer.value.riskScore.toFixed(2)})`,
    }),
  );
  const recommendations = asked.results;
  run.signal.throwIfAborted();
  await db.$transaction([
    db.scopingRecommendation.deleteMany({ where: { attribute: { reportId } } }),
    db.scopingRecommendation.createMany({ data: recommendations }),
  ]);
  const inScope = recommendations.filter((r) => r.decision === 'IN_SCOPE').length;
  await run.progress(100, `${inScope} in scope, ${recommendations.length - inScope} out of scope`);
  return { inScope, outOfScope: recommendations.length - inScope, ...llmReport(asked) };
}
