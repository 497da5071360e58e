/**
 * The offline LlmClient: answers each request from its `context` with word matching and a few
 * banking rules of thumb, so the workflow runs end to end without a model (tests, demos, air-gapped
 * installs). Deterministic: the same request gets the same answer, whatever the catalog's order.
 */
import type { z } from 'zod';
import type { LlmAnswer, LlmClient } from './client.ts';
import { inChatSpan } from './tracing.ts';
import {
  DATA_TYPES,
  type AnswerOf,
  type AttributesRequest,
  type CatalogElement,
  type chosenMappings,
  type LlmRequest,
  type MappingsRequest,
  type proposedAttributes,
  type proposedRules,
  type RulesRequest,
  type scopeAssessment,
  type ScopingRequest,
} from './requests.ts';
import { byText, clamp01, cut, jaccard, rawWords, readable, round2, singular, stem, stems, stemSet, trigramSimilarity, words } from './text.ts';

type DataType = (typeof DATA_TYPES)[number];
type Attribute = z.infer<typeof proposedAttributes>['attributes'][number];
type Rule = z.infer<typeof proposedRules>['rules'][number];

export function createHeuristicClient(): LlmClient {
  return {
    method: 'HEURISTIC',
    complete<R extends LlmRequest>(request: R, opts?: { signal?: AbortSignal }): Promise<LlmAnswer<AnswerOf<R>>> {
      // A span as a model call's (no tokens): a trace shows the offline answers and their time too.
      return inChatSpan({ provider: 'jobgraph.heuristic', model: 'heuristic', purpose: request.purpose }, async () => {
        opts?.signal?.throwIfAborted();
        const value = answer(request);
        // The same check an LLM's answer gets: a heuristic that drifts from the schema fails loudly here.
        return { value: request.schema.parse(value) as AnswerOf<R>, method: 'HEURISTIC' as const, model: 'heuristic', usage: { promptTokens: 0, completionTokens: 0 } };
      });
    },
  };
}

function answer(request: LlmRequest): unknown {
  switch (request.purpose) {
    case 'attributes':
      return proposeAttributes(request.context);
    case 'mappings':
      return chooseMappings(request.context);
    case 'scoping':
      return assessScope(request.context);
    case 'rules':
      return proposeRules(request.context);
    default: {
      const never: never = request;
      throw new Error(`No heuristic for purpose ${(never as LlmRequest).purpose}`);
    }
  }
}

// ── word classes ─────────────────────────────────────────────────────────────

const stemsOf = (list: string) => new Set(list.split(' ').map(stem));
const ID_WORDS = new Set(['id', 'ids', 'key', 'uuid', 'guid', 'identifier']);
/** Amounts (and their currency), dates and states: what a misreport hurts most. */
const CRITICAL = stemsOf(
  'amount balance principal exposure notional currency rate interest date status state outstanding maturity default stage rating provision allowance loss price quantity limit percent',
);
/** Numbers that are never negative. */
const NON_NEGATIVE = stemsOf('amount balance principal exposure notional rate price quantity limit percent fee income outstanding');
const FREE_TEXT = stemsOf('comment note remark memo narrative freetext free text description');

/** What a regulation makes relevant beyond the words of the report's own description. */
const REGULATION_TERMS: readonly [RegExp, string][] = [
  [/basel|\bcrr\b|corep|pillar|capital/i, 'capital exposure risk weight asset default loss counterparty rating collateral'],
  [/ifrs ?9|cecl|impairment|provision/i, 'expected credit loss stage impairment provision allowance default probability exposure'],
  [/fr ?y-?14|ccar|dfast|stress/i, 'loan balance commitment exposure collateral rating default maturity interest rate'],
  [/hmda/i, 'loan applicant property income action denial rate amount'],
  [/\baml\b|\bbsa\b|fincen|kyc|sanction/i, 'transaction customer amount country counterparty account beneficiary'],
  [/mifi[dr]|emir|sftr|dodd|cftc/i, 'trade instrument price quantity notional counterparty venue lei execution'],
  [/\blcr\b|nsfr|liquidity|2052/i, 'liquidity cash outflow inflow maturity collateral deposit'],
  [/finrep|call report|ffiec|balance sheet/i, 'asset liability balance amount loan deposit'],
];

const isIdLike = (name: string) => ID_WORDS.has(rawWords(name).at(-1) ?? '');

/** The catalog's free-form type ("varchar(3)", "numeric(18,2)", "timestamptz") as one of DATA_TYPES. */
function dataTypeOf(element: CatalogElement): DataType {
  const type = element.dataType.trim().toUpperCase();
  if ((DATA_TYPES as readonly string[]).includes(type)) return type as DataType;
  const t = type.toLowerCase();
  if (/bool|bit\b/.test(t)) return 'BOOLEAN';
  if (/date|time/.test(t)) return 'DATE';
  if (/int|serial/.test(t)) return 'INTEGER';
  if (/dec|numeric|number|float|double|real|money/.test(t)) return 'DECIMAL';
  return /\b(code|currency|country)\b/.test(words(element.column).join(' ')) ? 'CODE' : 'STRING';
}

/** The length a catalog type declares ("varchar(3)" → 3). */
function declaredLength(element: CatalogElement | null): number | undefined {
  const match = element && /char[^(]*\(\s*(\d+)\s*\)/i.exec(element.dataType);
  return match ? Number(match[1]) : undefined;
}

// ── attributes ───────────────────────────────────────────────────────────────

const MAX_ATTRIBUTES = 40;
/** An element this relevant to the report is one of its attributes. */
const RELEVANT = 0.4;

interface Scored {
  element: CatalogElement;
  score: number;
}

function proposeAttributes({ report, catalog }: AttributesRequest['context']): z.infer<typeof proposedAttributes> {
  const elements = [...new Map(catalog.map((e) => [e.id, e])).values()].sort((a, b) => byText(a.id, b.id));
  if (elements.length === 0) return { attributes: [] };

  // The report's words weigh 1; words its regulation implies weigh less: they are only likely.
  const wanted = new Map<string, number>();
  for (const [pattern, terms] of REGULATION_TERMS) {
    if (pattern.test(`${report.regulation} ${report.name}`)) for (const s of stems(terms)) wanted.set(s, 0.6);
  }
  for (const s of stems(`${report.name} ${report.description}`)) wanted.set(s, 1);

  // Rarer words say more: "birth" picks one column, "date" several (inverse document frequency).
  const bags = new Map(elements.map((e) => [e.id, { column: stemSet(e.column), table: stemSet(e.table), description: stemSet(e.description) }]));
  const frequency = new Map<string, number>();
  for (const bag of bags.values()) for (const s of new Set([...bag.column, ...bag.table, ...bag.description])) frequency.set(s, (frequency.get(s) ?? 0) + 1);
  const weight = (s: string) => Math.log(1 + elements.length / (frequency.get(s) ?? 1));
  const hit = (set: ReadonlySet<string>) => {
    let total = 0;
    let found = 0;
    for (const s of set) {
      total += weight(s);
      found += weight(s) * (wanted.get(s) ?? 0);
    }
    return total === 0 ? 0 : found / total;
  };

  const scored: Scored[] = elements.map((element) => {
    const bag = bags.get(element.id)!;
    return { element, score: 0.6 * hit(bag.column) + 0.25 * hit(bag.description) + 0.15 * hit(bag.table) };
  });

  // The report is mostly about one table: its columns get some benefit of the doubt, its keys always come.
  const tables = new Map<string, Scored[]>();
  for (const s of scored) {
    const members = tables.get(s.element.table);
    if (members) members.push(s);
    else tables.set(s.element.table, [s]);
  }
  const tableScore = (table: string, members: Scored[]) => {
    const top = members.map((s) => s.score).sort((a, b) => b - a).slice(0, 3);
    return top.reduce((sum, n) => sum + n, 0) / top.length + 0.5 * hit(stemSet(table));
  };
  const [mainTable] = [...tables].map(([table, members]) => ({ table, score: tableScore(table, members) })).sort((a, b) => b.score - a.score || byText(a.table, b.table));
  for (const s of scored) if (s.element.table === mainTable!.table) s.score = Math.min(1, s.score + 0.1);

  // One attribute per distinct column (after spelling out: loan_amt and loanAmount are one), from its best element.
  const best = new Map<string, Scored & { key: boolean }>();
  for (const s of scored) {
    const key = s.element.table === mainTable!.table && isIdLike(s.element.column);
    if (s.score < RELEVANT && !key) continue;
    const column = words(s.element.column).join('_');
    const held = best.get(column);
    if (!held || s.score > held.score || (s.score === held.score && byText(s.element.id, held.element.id) < 0)) best.set(column, { ...s, key });
  }

  const attributes = new Map<string, Attribute>();
  const ranked = [...best.values()].sort((a, b) => Number(b.key) - Number(a.key) || b.score - a.score || byText(a.element.id, b.element.id));
  for (const { element, score } of ranked) {
    const name = attributeName(element);
    if (attributes.has(name.toLowerCase())) continue;
    const dataType = dataTypeOf(element);
    const isKey = isIdLike(element.column);
    const source = `${element.dataset}.${element.table}.${element.column}`;
    attributes.set(name.toLowerCase(), {
      name: cut(name, 120),
      description: cut(element.description.trim() ? `${element.description.trim()} (from ${source})` : `From ${source}`, 2_000),
      dataType,
      isKey,
      // From the column's own words: "Exposure ID" is a key, not an amount.
      isCritical: !isKey && (dataType === 'DATE' || stems(element.column).some((s) => CRITICAL.has(s))),
      confidence: round2(0.2 + 0.7 * clamp01(score)),
    });
    if (attributes.size === MAX_ATTRIBUTES) break;
  }
  return { attributes: [...attributes.values()] };
}

/** "loans.amount" → "Loan Amount", "loans.id" → "Loan ID", "loans.interest_rate" → "Interest Rate". */
function attributeName(element: CatalogElement): string {
  const column = words(element.column);
  const table = singular(words(element.table).at(-1) ?? '');
  // A bare column ("amount", "status", "id") reads ambiguously without its table.
  const name = column.length === 1 && table && column[0] !== table ? `${table} ${column[0]}` : column.join(' ');
  return readable(name) || element.column;
}

// ── mappings ─────────────────────────────────────────────────────────────────

const MAX_MAPPINGS = 3;
const MAPPING_THRESHOLD = 0.3;

/** Types that can hold each other's values. */
const typeFamily = (type: string) => ({ INTEGER: 'number', DECIMAL: 'number', STRING: 'text', CODE: 'text' })[type] ?? type;

function chooseMappings({ attribute, candidates }: MappingsRequest['context']): z.infer<typeof chosenMappings> {
  const name = stemSet(attribute.name);
  const all = new Set([...name, ...stems(attribute.description)]);
  // The attribute's own spelling of each stem, for the rationale.
  const spelled = new Map<string, string>();
  for (const word of words(`${attribute.name} ${attribute.description}`)) if (!spelled.has(stem(word))) spelled.set(stem(word), word);

  const unique = [...new Map(candidates.map((e) => [e.id, e])).values()];
  const ranked = unique
    .map((element) => {
      const column = stemSet(element.column);
      const context = new Set([...column, ...stems(element.table)]);
      const nameSimilarity = Math.max(jaccard(name, context), jaccard(name, column));
      const spelling = trigramSimilarity(words(attribute.name).join(' '), words(element.column).join(' '));
      const elementWords = new Set([...context, ...stems(element.description)]);
      const descriptionSimilarity = jaccard(all, elementWords);
      let score = 0.55 * nameSimilarity + 0.15 * spelling + 0.3 * descriptionSimilarity;
      const typeFits = typeFamily(attribute.dataType) === typeFamily(dataTypeOf(element));
      if (!typeFits) score *= 0.8;
      const shared = [...all].filter((s) => elementWords.has(s)).map((s) => spelled.get(s) ?? s);
      return { element, score: round2(clamp01(score)), shared, nameSimilarity, typeFits };
    })
    .filter((m) => m.score >= MAPPING_THRESHOLD)
    .sort((a, b) => b.score - a.score || byText(a.element.id, b.element.id))
    .slice(0, MAX_MAPPINGS);

  return {
    mappings: ranked.map(({ element, score, shared, nameSimilarity, typeFits }) => ({
      dataElementId: element.id,
      confidence: score,
      rationale: cut(
        `${shared.length ? `Shares ${shared.map((w) => `"${w}"`).join(', ')}` : 'Similar spelling'} with ${element.table}.${element.column}` +
          `; name similarity ${nameSimilarity.toFixed(2)}${typeFits ? '' : `; its type ${dataTypeOf(element)} differs from ${attribute.dataType}`}.`,
        2_000,
      ),
    })),
  };
}

// ── scoping ──────────────────────────────────────────────────────────────────

const IN_SCOPE_RISK = 0.5;
const TYPE_RISK: Record<string, number> = { DECIMAL: 0.15, DATE: 0.1, INTEGER: 0.05, CODE: 0.05 };

function assessScope({ report, attribute, mapped }: ScopingRequest['context']): z.infer<typeof scopeAssessment> {
  const name = stemSet(attribute.name);
  const all = new Set([...name, ...stems(attribute.description)]);
  const factors: [string, number][] = [['base', 0.1]];
  if (attribute.isCritical) factors.push(['critical', 0.3]);
  if (attribute.isKey) factors.push(['key', 0.3]);
  const typeRisk = TYPE_RISK[attribute.dataType];
  if (typeRisk) factors.push([`${attribute.dataType} type`, typeRisk]);
  const keyword = [...all].find((s) => CRITICAL.has(s));
  if (keyword) factors.push([`"${words(`${attribute.name} ${attribute.description}`).find((w) => stem(w) === keyword) ?? keyword}" is a risk word`, 0.2]);
  if ([...name].some((s) => FREE_TEXT.has(s))) factors.push(['free text', -0.25]);
  if (mapped.length === 0) factors.push(['no mapped source', 0.1]);
  else if (mapped.length > 1) factors.push([`${mapped.length} mapped sources`, 0.05]);
  const reportWords = stemSet(`${report.name} ${report.description}`);
  // "Loan ID" is named by a report on loans: "ID" says nothing.
  const telling = [...name].filter((s) => !ID_WORDS.has(s));
  if (telling.length > 0 && telling.filter((s) => reportWords.has(s)).length / telling.length > 0.6) factors.push(['named in the report', 0.1]);

  const riskScore = round2(clamp01(factors.reduce((sum, [, n]) => sum + n, 0)));
  const decision = riskScore >= IN_SCOPE_RISK ? 'IN_SCOPE' : 'OUT_OF_SCOPE';
  const listed = factors.map(([what, n]) => `${what} ${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(2)}`).join(', ');
  return {
    decision,
    riskScore,
    rationale: cut(`Risk ${riskScore.toFixed(2)} (${listed}): ${decision === 'IN_SCOPE' ? 'at or above' : 'below'} ${IN_SCOPE_RISK}.`, 2_000),
  };
}

// ── rules ────────────────────────────────────────────────────────────────────

const MAX_RULES = 10;
const DEFAULT_MAX_LENGTH: Record<string, number> = { STRING: 255, CODE: 64 };

function proposeRules({ attribute, element }: RulesRequest['context']): z.infer<typeof proposedRules> {
  const important = attribute.isKey || attribute.isCritical;
  const severity = (otherwise: Rule['severity']): Rule['severity'] => (important ? 'HIGH' : otherwise);
  const raw = [...rawWords(attribute.name), ...(element ? rawWords(element.column) : [])];
  const named = new Set([...stems(attribute.name), ...(element ? stems(element.column) : [])]);
  const text = `${element?.description ?? ''}\n${attribute.description}`;
  const dataType = element && attribute.dataType === 'STRING' ? dataTypeOf(element) : attribute.dataType;
  const rules: Rule[] = [];
  const add = (kind: Rule['kind'], params: Record<string, unknown>, level: Rule['severity'], rationale: string) =>
    rules.push({ kind, params, severity: level, rationale });

  if (important) add('NOT_NULL', {}, 'HIGH', `${attribute.isKey ? 'A key' : 'A critical attribute'} must always be present.`);
  if (attribute.isKey || isIdLike(attribute.name) || (element && isIdLike(element.column))) {
    add('UNIQUE', {}, severity('MEDIUM'), 'An identifier names one record only.');
  }

  const numeric = dataType === 'DECIMAL' || dataType === 'INTEGER';
  const between = /between\s+(-?\d+(?:\.\d+)?)\s+and\s+(-?\d+(?:\.\d+)?)/i.exec(text);
  if (numeric && between) {
    add('RANGE', { min: Number(between[1]), max: Number(between[2]) }, severity('MEDIUM'), 'The description bounds the value.');
  } else if (numeric && [...named].some((s) => NON_NEGATIVE.has(s)) && !/negative|signed/i.test(text)) {
    const last = rawWords(element?.column ?? attribute.name).at(-1);
    const percent = /\bpercent|%|0\s*(?:-|to)\s*100\b/i.test(text);
    // A *_rate or *_pct column holds a fraction unless the description says percent.
    const max = last === 'rate' || last === 'pct' ? (percent ? 100 : 1) : undefined;
    add('RANGE', max === undefined ? { min: 0 } : { min: 0, max }, severity('MEDIUM'), max === undefined ? 'Amounts, balances and rates are not negative.' : `A rate lies between 0 and ${max}.`);
  }

  const values = listedValues(text);
  const textual = dataType === 'STRING' || dataType === 'CODE';
  if (values) {
    add('ALLOWED_VALUES', { values }, severity('MEDIUM'), 'The description lists the values it may take.');
  } else if (textual && named.has(stem('currency'))) {
    add('PATTERN', { regex: '^[A-Z]{3}$' }, severity('MEDIUM'), 'A currency is an ISO 4217 code: three capital letters.');
  } else if (textual && named.has(stem('country'))) {
    add('PATTERN', { regex: '^[A-Z]{2}$' }, severity('MEDIUM'), 'A country is an ISO 3166 alpha-2 code: two capital letters.');
  } else if (dataType === 'CODE' || raw.includes('code') || raw.includes('cd')) {
    add('PATTERN', { regex: '^[A-Z0-9_-]+$' }, severity('MEDIUM'), 'A code is capital letters, digits, "_" or "-".');
  }

  if (textual) {
    const max = declaredLength(element) ?? DEFAULT_MAX_LENGTH[dataType]!;
    add('MAX_LENGTH', { max }, severity('LOW'), declaredLength(element) ? `The column holds at most ${max} characters.` : `Longer than ${max} characters is a sign of corrupt data.`);
  }
  return { rules: rules.slice(0, MAX_RULES) };
}

/** Values a description enumerates: "one of A, B or C", "either X or Y", "status (OPEN, CLOSED)". */
function listedValues(text: string): string[] | undefined {
  const lists = [
    ...[...text.matchAll(/\b(?:one of|either|allowed values?(?: are)?|possible values?(?: are)?|valid values?(?: are)?)\s*:?\s*([^.;\n]+)/gi)].map((m) => m[1]!),
    ...[...text.matchAll(/\(([A-Za-z0-9_-]+(?:\s*[,|/]\s*[A-Za-z0-9_-]+)+)\)/g)].map((m) => m[1]!),
  ];
  for (const list of lists) {
    const values = list
      .split(/\s*(?:,|\bor\b|\band\b|\/|\|)\s*/i)
      .map((v) => v.trim().replace(/^["'`‘“]|["'`’”]$/g, ''))
      .filter(Boolean);
    const fits = values.length >= 2 && values.length <= 50 && values.every((v) => /^[\w-]+(?: [\w-]+){0,2}$/.test(v) && v.length <= 40);
    if (fits) return [...new Set(values)];
  }
  return undefined;
}
