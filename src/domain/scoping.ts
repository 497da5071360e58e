/** Scoping: per attribute, its risk and whether testing covers it, with the reason. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LlmClient } from './llm/client.ts';
import { scopingRequest } from './llm/requests.ts';
import { facts, requireReport, summary } from './planning.ts';
import type { Run } from './run.ts';

export async function generateRecommendations(db: PrismaClient, llm: LlmClient, reportId: string, run: Run) {
  const report = await requireReport(db, reportId);
  const attributes = await db.attribute.findMany({
    where: { reportId },
    orderBy: { name: 'asc' },
    include: { mappings: { include: { dataElement: true }, orderBy: { confidence: 'desc' } } },
  });
  const llmSummary = summary(llm.method, '');
  const recommendations: { attributeId: string; decision: 'IN_SCOPE' | 'OUT_OF_SCOPE'; riskScore: number; rationale: string; method: string }[] = [];
  for (const [i, attribute] of attributes.entries()) {
    run.signal.throwIfAborted();
    const mapped = attribute.mappings.map((m) => m.dataElement);
    const answer = await llm.complete(scopingRequest(report, facts(attribute), mapped), { signal: run.signal });
    llmSummary.model = answer.model;
    llmSummary.add(answer.usage);
    recommendations.push({ attributeId: attribute.id, ...answer.value, method: answer.method });
    await run.progress(((i + 1) / attributes.length) * 95, `scored ${i + 1} of ${attributes.length}: ${attribute.name} ${answer.value.decision} (risk ${answer.value.riskScore.toFixed(2)})`);
  }
  run.signal.throwIfAborted();
  await db.$transaction([
    db.scopingRecommendation.deleteMany({ where: { attribute: { reportId } } }),
    db.scopingRecommendation.createMany({ data: recommendations }),
  ]);
  const inScope = recommendations.filter((r) => r.decision === 'IN_SCOPE').length;
  await run.progress(100, `${inScope} in scope, ${recommendations.length - inScope} out of scope`);
  return { inScope, outOfScope: recommendations.length - inScope, method: llmSummary.method, model: llmSummary.model, usage: llmSummary.usage };
}
