import { describe, expect, it } from 'vitest';
import { createHeuristicClient } from '../../../src/domain/llm/heuristic.ts';
import {
  attributesRequest,
  chosenMappings,
  mappingsRequest,
  proposedAttributes,
  proposedRules,
  rulesRequest,
  scopeAssessment,
  scopingRequest,
  type AttributeFacts,
  type CatalogElement,
  type ReportFacts,
} from '../../../src/domain/llm/requests.ts';

/** The offline client on a small loan catalog: sensible, schema-true and deterministic answers. */

const el = (table: string, column: string, dataType: string, description: string): CatalogElement => ({
  id: `${table}.${column}`,
  dataset: 'core',
  table,
  column,
  dataType,
  description,
});

const catalog: CatalogElement[] = [
  el('loans', 'loan_id', 'varchar(20)', 'Unique identifier of the loan'),
  el('loans', 'customer_id', 'varchar(20)', 'The borrower'),
  el('loans', 'amount', 'numeric(18,2)', 'Outstanding principal amount of the loan'),
  el('loans', 'currency_code', 'char(3)', 'ISO currency of the amount'),
  el('loans', 'interest_rate', 'numeric(9,6)', 'Annual interest rate as a fraction'),
  el('loans', 'origination_date', 'date', 'Date the loan was originated'),
  el('loans', 'status', 'varchar(10)', 'Loan status, one of ACTIVE, CLOSED, DEFAULTED'),
  el('loans', 'comment', 'text', 'Free-text comment by the loan officer'),
  el('customers', 'customer_id', 'varchar(20)', 'Unique identifier of the customer'),
  el('customers', 'full_name', 'varchar(200)', 'Customer name'),
  el('customers', 'birth_date', 'date', 'Date of birth'),
  el('customers', 'country_code', 'char(2)', 'Country of residence'),
  el('payments', 'payment_id', 'varchar(20)', 'Payment identifier'),
  el('payments', 'amount', 'numeric(18,2)', 'Amount paid'),
  el('payments', 'paid_on', 'date', 'Date of payment'),
];
const byId = new Map(catalog.map((e) => [e.id, e]));

const report: ReportFacts = {
  name: 'Loan Portfolio Report',
  regulation: 'FR Y-14Q',
  description: 'Quarterly report of every outstanding loan: its amount and currency, interest rate, origination date and status.',
};

const facts = (name: string, dataType: string, isKey = false, isCritical = false, description = ''): AttributeFacts => ({ name, description, dataType, isKey, isCritical });

const client = createHeuristicClient();

describe('heuristic client', () => {
  it('answers as the heuristic, with no usage', async () => {
    const answer = await client.complete(scopingRequest(report, facts('Loan Amount', 'DECIMAL'), []));
    expect(client.method).toBe('HEURISTIC');
    expect(answer).toMatchObject({ method: 'HEURISTIC', model: 'heuristic', usage: { promptTokens: 0, completionTokens: 0 } });
  });

  it('proposes the report’s attributes from the catalog: relevant columns, readable names, keys and critical ones', async () => {
    const { value } = await client.complete(attributesRequest(report, catalog));
    const named = new Map(value.attributes.map((a) => [a.name, a]));

    expect([...named.keys()]).toEqual(expect.arrayContaining(['Loan ID', 'Loan Amount', 'Currency Code', 'Interest Rate', 'Origination Date', 'Loan Status']));
    expect(named.get('Loan ID')).toMatchObject({ dataType: 'STRING', isKey: true, isCritical: false });
    expect(named.get('Loan Amount')).toMatchObject({ dataType: 'DECIMAL', isKey: false, isCritical: true });
    expect(named.get('Origination Date')).toMatchObject({ dataType: 'DATE', isCritical: true });
    expect(named.get('Currency Code')).toMatchObject({ dataType: 'CODE' });
    // Columns the report does not speak of stay out.
    for (const absent of ['Loan Comment', 'Comment', 'Birth Date', 'Full Name', 'Paid On', 'Payment ID']) expect(named.has(absent)).toBe(false);
    // One attribute per distinct column: loans.amount and payments.amount are one.
    expect(value.attributes.filter((a) => /amount/i.test(a.name))).toHaveLength(1);
    expect(named.get('Loan Amount')!.confidence).toBeGreaterThan(named.get('Customer ID')?.confidence ?? 0);
  });

  it('brings at least the keys of the most relevant table, and at most 40 attributes', async () => {
    const vague = { name: 'Loans', regulation: 'internal', description: 'Loans.' };
    const { value } = await client.complete(attributesRequest(vague, catalog));
    expect(value.attributes.map((a) => a.name)).toContain('Loan ID');

    const wide = Array.from({ length: 120 }, (_, i) => el('loans', `loan_amount_${i}`, 'numeric', `Loan amount ${i}`));
    const many = await client.complete(attributesRequest(report, wide));
    expect(many.value.attributes.length).toBe(40);
    expect(await client.complete(attributesRequest(report, []))).toMatchObject({ value: { attributes: [] } });
  });

  it('maps an attribute to the most similar elements, best first, naming the shared words', async () => {
    const { value } = await client.complete(mappingsRequest(facts('Loan Amount', 'DECIMAL', false, true, 'Outstanding amount of the loan'), catalog));
    expect(value.mappings[0]).toMatchObject({ dataElementId: 'loans.amount' });
    expect(value.mappings[0]!.rationale).toMatch(/"loan".*"amount"|"amount".*"loan"/);
    expect(value.mappings.length).toBeLessThanOrEqual(3);
    const confidences = value.mappings.map((m) => m.confidence);
    expect(confidences).toEqual([...confidences].sort((a, b) => b - a));
    expect(value.mappings.map((m) => m.dataElementId)).not.toContain('customers.full_name');

    const none = await client.complete(mappingsRequest(facts('Collateral Haircut', 'DECIMAL'), catalog));
    expect(none.value.mappings).toEqual([]);
  });

  it('scopes a critical amount in and a free-text comment out, saying why', async () => {
    const amount = await client.complete(scopingRequest(report, facts('Loan Amount', 'DECIMAL', false, true), [byId.get('loans.amount')!]));
    expect(amount.value.decision).toBe('IN_SCOPE');
    expect(amount.value.riskScore).toBeGreaterThanOrEqual(0.5);
    expect(amount.value.rationale).toMatch(/critical/);

    const comment = await client.complete(scopingRequest(report, facts('Loan Comment', 'STRING', false, false, 'Free-text comment'), [byId.get('loans.comment')!]));
    expect(comment.value.decision).toBe('OUT_OF_SCOPE');
    expect(comment.value.riskScore).toBeLessThan(0.5);
    expect(comment.value.rationale).toMatch(/free text/);
  });

  it('proposes rules by type and name', async () => {
    const rules = async (attribute: AttributeFacts, elementId: string | null) =>
      (await client.complete(rulesRequest(attribute, elementId ? byId.get(elementId)! : null))).value.rules;

    const id = await rules(facts('Loan ID', 'STRING', true), 'loans.loan_id');
    expect(id.map((r) => r.kind)).toEqual(expect.arrayContaining(['NOT_NULL', 'UNIQUE']));
    expect(id.find((r) => r.kind === 'UNIQUE')!.severity).toBe('HIGH');
    expect(id.find((r) => r.kind === 'MAX_LENGTH')!.params).toEqual({ max: 20 });

    const currency = await rules(facts('Currency Code', 'CODE'), 'loans.currency_code');
    expect(currency.find((r) => r.kind === 'PATTERN')!.params).toEqual({ regex: '^[A-Z]{3}$' });

    const amount = await rules(facts('Loan Amount', 'DECIMAL', false, true), 'loans.amount');
    expect(amount.find((r) => r.kind === 'RANGE')).toMatchObject({ params: { min: 0 }, severity: 'HIGH' });
    expect(amount.map((r) => r.kind)).toContain('NOT_NULL');

    const rate = await rules(facts('Interest Rate', 'DECIMAL', false, true), 'loans.interest_rate');
    expect(rate.find((r) => r.kind === 'RANGE')!.params).toEqual({ min: 0, max: 1 });

    const status = await rules(facts('Loan Status', 'STRING', false, true), 'loans.status');
    expect(status.find((r) => r.kind === 'ALLOWED_VALUES')!.params).toEqual({ values: ['ACTIVE', 'CLOSED', 'DEFAULTED'] });

    const code = await rules(facts('Product Code', 'CODE'), null);
    expect(code.find((r) => r.kind === 'PATTERN')).toMatchObject({ params: { regex: '^[A-Z0-9_-]+$' }, severity: 'MEDIUM' });

    const comment = await rules(facts('Loan Comment', 'STRING'), 'loans.comment');
    expect(comment.map((r) => r.kind)).toEqual(['MAX_LENGTH']);
    expect(comment[0]!.severity).toBe('LOW');
  });

  it('answers every purpose within its schema, for every attribute it proposed', async () => {
    const { value } = await client.complete(attributesRequest(report, catalog));
    expect(proposedAttributes.parse(value)).toEqual(value);
    for (const attribute of value.attributes) {
      const mappings = (await client.complete(mappingsRequest(attribute, catalog))).value;
      expect(chosenMappings.parse(mappings)).toEqual(mappings);
      const mapped = mappings.mappings.map((m) => byId.get(m.dataElementId)!);
      const scope = (await client.complete(scopingRequest(report, attribute, mapped))).value;
      expect(scopeAssessment.parse(scope)).toEqual(scope);
      const rules = (await client.complete(rulesRequest(attribute, mapped[0] ?? null))).value;
      expect(proposedRules.parse(rules)).toEqual(rules);
    }
  });

  it('is deterministic: the same request gets the same answer, whatever the catalog’s order', async () => {
    const first = await client.complete(attributesRequest(report, catalog));
    expect(await client.complete(attributesRequest(report, catalog))).toEqual(first);
    expect(await createHeuristicClient().complete(attributesRequest(report, [...catalog].reverse()))).toEqual(first);

    const attribute = facts('Loan Amount', 'DECIMAL', false, true);
    const mappings = await client.complete(mappingsRequest(attribute, catalog));
    expect(await client.complete(mappingsRequest(attribute, [...catalog].reverse()))).toEqual(mappings);
    const rules = rulesRequest(facts('Loan Status', 'STRING', false, true), byId.get('loans.status')!);
    expect(await client.complete(rules)).toEqual(await client.complete(rules));
  });

  it('honours an aborted signal', async () => {
    const reason = new Error('stop');
    await expect(client.complete(attributesRequest(report, catalog), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});
