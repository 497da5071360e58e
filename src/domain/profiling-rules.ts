/** Data profiling, the rules: per attribute, the data-quality rules its values must keep. */
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { LlmClient } from './llm/client.ts';
import { rulesRequest } from './llm/requests.ts';
import { facts, requireReport, summary } from './planning.ts';
import type { Run } from './run.ts';

export async function generateRules(db: PrismaClient, llm: LlmClient, reportId: string, run: Run) {
  await requireReport(db, reportId);
  const attributes = await db.attribute.findMany({
    where: { reportId },
    orderBy: { name: 'asc' },
    include: { mappings: { include: { dataElement: true }, orderBy: { confidence: 'desc' }, take: 1 } },
  });
  const llmSummary = summary(llm.method, '');
  const rules: { attributeId: string; column: string | null; kind: never; params: object; severity: never; rationale: string; method: string }[] = [];
  for (const [i, attribute] of attributes.entries()) {
    run.signal.throwIfAborted();
    const element = attribute.mappings[0]?.dataElement ?? null;
    const answer = await llm.complete(rulesRequest(facts(attribute), element), { signal: run.signal });
    llmSummary.model = answer.model;
    llmSummary.add(answer.usage);
    for (const rule of answer.value.rules) {
      rules.push({
        attributeId: attribute.id,
        column: element?.column ?? null,
        kind: rule.kind as never,
        params: rule.params,
        severity: rule.severity as never,
        rationale: rule.rationale,
        method: answer.method,
      });
    }
    await run.progress(((i + 1) / attributes.length) * 95, `rules for ${i + 1} of ${attributes.length}: ${attribute.name} (${answer.value.rules.length})`);
  }
  run.signal.throwIfAborted();
  await db.$transaction([db.profilingRule.deleteMany({ where: { attribute: { reportId } } }), db.profilingRule.createMany({ data: rules })]);
  await run.progress(100, `${rules.length} rules for ${attributes.length} attributes`);
  return { rules: rules.length, attributes: attributes.length, method: llmSummary.method, model: llmSummary.model, usage: llmSummary.usage };
}
