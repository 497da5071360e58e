/**
 * What the workflow asks a language model, one purpose each: the facts a prompt is made from
 * (`context`), the prompt itself, and the zod schema its JSON answer must fit. Both LlmClients
 * answer the same requests: `openai` by sending the prompt, `heuristic` by reading the context.
 */
import { z } from 'zod';

export const DATA_TYPES = ['STRING', 'INTEGER', 'DECIMAL', 'DATE', 'BOOLEAN', 'CODE'] as const;
export const RULE_KINDS = ['NOT_NULL', 'RANGE', 'PATTERN', 'ALLOWED_VALUES', 'UNIQUE', 'MAX_LENGTH'] as const;
export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH'] as const;

export interface CatalogElement {
  id: string;
  dataset: string;
  table: string;
  column: string;
  dataType: string;
  description: string;
}

export interface ReportFacts {
  name: string;
  regulation: string;
  description: string;
}

export interface AttributeFacts {
  name: string;
  description: string;
  dataType: string;
  isKey: boolean;
  isCritical: boolean;
}

// ── the answers ──────────────────────────────────────────────────────────────

export const proposedAttributes = z.object({
  attributes: z
    .array(
      z.object({
        name: z.string().min(1).max(120),
        description: z.string().max(2_000),
        dataType: z.enum(DATA_TYPES),
        isKey: z.boolean(),
        isCritical: z.boolean(),
        confidence: z.number().min(0).max(1),
      }),
    )
    .max(200),
});

export const chosenMappings = z.object({
  mappings: z
    .array(
      z.object({
        dataElementId: z.string(),
        confidence: z.number().min(0).max(1),
        rationale: z.string().max(2_000),
      }),
    )
    .max(10),
});

export const scopeAssessment = z.object({
  decision: z.enum(['IN_SCOPE', 'OUT_OF_SCOPE']),
  riskScore: z.number().min(0).max(1),
  rationale: z.string().max(2_000),
});

export const proposedRules = z.object({
  rules: z
    .array(
      z.object({
        kind: z.enum(RULE_KINDS),
        /** By kind: RANGE {min?, max?}, PATTERN {regex}, ALLOWED_VALUES {values}, MAX_LENGTH {max}; else {}. */
        params: z.record(z.string(), z.unknown()),
        severity: z.enum(SEVERITIES),
        rationale: z.string().max(2_000),
      }),
    )
    .max(10),
});

// ── the requests ─────────────────────────────────────────────────────────────

interface Base<P extends string, C, T> {
  purpose: P;
  /** The facts the prompt is made from: what the heuristic client reads. */
  context: C;
  system: string;
  prompt: string;
  schema: z.ZodType<T>;
}

export type AttributesRequest = Base<'attributes', { report: ReportFacts; catalog: CatalogElement[] }, z.infer<typeof proposedAttributes>>;
export type MappingsRequest = Base<'mappings', { attribute: AttributeFacts; candidates: CatalogElement[] }, z.infer<typeof chosenMappings>>;
export type ScopingRequest = Base<'scoping', { report: ReportFacts; attribute: AttributeFacts; mapped: CatalogElement[] }, z.infer<typeof scopeAssessment>>;
export type RulesRequest = Base<'rules', { attribute: AttributeFacts; element: CatalogElement | null }, z.infer<typeof proposedRules>>;

export type LlmRequest = AttributesRequest | MappingsRequest | ScopingRequest | RulesRequest;
export type AnswerOf<R extends LlmRequest> = R extends Base<string, unknown, infer T> ? T : never;

const SYSTEM =
  'You help a bank test a regulatory report. Answer with one JSON object only, exactly of the shape asked for, no prose.';

const catalogLines = (catalog: CatalogElement[]) =>
  catalog.map((e) => `- ${e.id}: ${e.dataset}.${e.table}.${e.column} (${e.dataType}) ${e.description}`).join('\n');

export function attributesRequest(report: ReportFacts, catalog: CatalogElement[]): AttributesRequest {
  return {
    purpose: 'attributes',
    context: { report, catalog },
    system: SYSTEM,
    prompt:
      `Report "${report.name}" under ${report.regulation}:\n${report.description}\n\nData catalog:\n${catalogLines(catalog)}\n\n` +
      `List the report's attributes (the fields it reports). JSON: {"attributes": [{"name", "description", "dataType" (one of ${DATA_TYPES.join(', ')}), "isKey", "isCritical", "confidence" (0..1)}]}`,
    schema: proposedAttributes,
  };
}

export function mappingsRequest(attribute: AttributeFacts, candidates: CatalogElement[]): MappingsRequest {
  return {
    purpose: 'mappings',
    context: { attribute, candidates },
    system: SYSTEM,
    prompt:
      `Attribute "${attribute.name}" (${attribute.dataType}): ${attribute.description}\n\nCandidate data elements:\n${catalogLines(candidates)}\n\n` +
      'Pick the data elements that hold this attribute, best first (none if none fits). JSON: {"mappings": [{"dataElementId", "confidence" (0..1), "rationale"}]}',
    schema: chosenMappings,
  };
}

export function scopingRequest(report: ReportFacts, attribute: AttributeFacts, mapped: CatalogElement[]): ScopingRequest {
  return {
    purpose: 'scoping',
    context: { report, attribute, mapped },
    system: SYSTEM,
    prompt:
      `Report "${report.name}" under ${report.regulation}. Attribute "${attribute.name}" (${attribute.dataType}, ` +
      `${attribute.isKey ? 'key' : 'not key'}, ${attribute.isCritical ? 'critical' : 'not critical'}): ${attribute.description}\n` +
      `Mapped to: ${mapped.map((e) => `${e.table}.${e.column}`).join(', ') || 'nothing'}\n\n` +
      'Score the risk that this attribute is misreported and say whether testing should cover it. JSON: {"decision": "IN_SCOPE" | "OUT_OF_SCOPE", "riskScore" (0..1), "rationale"}',
    schema: scopeAssessment,
  };
}

export function rulesRequest(attribute: AttributeFacts, element: CatalogElement | null): RulesRequest {
  return {
    purpose: 'rules',
    context: { attribute, element },
    system: SYSTEM,
    prompt:
      `Attribute "${attribute.name}" (${attribute.dataType}): ${attribute.description}\n` +
      `Stored in: ${element ? `${element.table}.${element.column} (${element.dataType}) ${element.description}` : 'unknown'}\n\n` +
      `Propose data-quality rules for its values. JSON: {"rules": [{"kind" (one of ${RULE_KINDS.join(', ')}), "params" ` +
      '(RANGE {"min", "max"}, PATTERN {"regex"}, ALLOWED_VALUES {"values": [..]}, MAX_LENGTH {"max"}, else {}), "severity" (LOW | MEDIUM | HIGH), "rationale"}]}',
    schema: proposedRules,
  };
}
