/**
 * The demo: one report, a data catalog of about 100 elements over eight tables, and a loan
 * dataset made by a seeded PRNG (the same records on every machine), with the nulls and bad values
 * a data-quality review should find. Pure: seed.ts writes it.
 */
import { seededRandom } from './random.ts';

export const DEMO_REPORT = {
  name: 'Quarterly Loan Exposure Report',
  regulation: 'FFIEC 031 Schedule RC-C',
  description:
    'Reports every loan held for investment at quarter end: the loan identifier, the borrower (customer id, country ' +
    'and customer type), the product code and currency, the principal amount and outstanding balance, the interest ' +
    'rate, origination and maturity dates, the loan status and days past due, the collateral value and loan-to-value ' +
    'ratio, the internal risk grade, and the allowance for credit losses (ECL stage and amount).',
};

type Column = [name: string, dataType: string, description: string];

const TABLES: Record<string, { dataset: string; columns: Column[] }> = {
  loans: {
    dataset: 'core_banking',
    columns: [
      ['loan_id', 'STRING', 'Unique loan identifier'],
      ['customer_id', 'STRING', 'Borrower customer identifier'],
      ['product_code', 'CODE', 'Loan product code, one of MORT, AUTO, CARD, SME, CRE'],
      ['currency', 'CODE', 'ISO 4217 currency code of the loan'],
      ['principal_amount', 'DECIMAL', 'Original principal amount of the loan'],
      ['outstanding_balance', 'DECIMAL', 'Outstanding balance at the reporting date'],
      ['interest_rate', 'DECIMAL', 'Annual interest rate as a fraction'],
      ['origination_date', 'DATE', 'Date the loan was originated'],
      ['maturity_date', 'DATE', 'Contractual maturity date'],
      ['status', 'CODE', 'Loan status, one of CURRENT, DELINQUENT, DEFAULT, CLOSED'],
      ['days_past_due', 'INTEGER', 'Days past due at the reporting date'],
      ['collateral_value', 'DECIMAL', 'Value of the collateral securing the loan'],
      ['ltv_ratio', 'DECIMAL', 'Loan to value ratio'],
      ['risk_grade', 'CODE', 'Internal risk grade, one of A, B, C, D, E'],
      ['branch_code', 'CODE', 'Originating branch code'],
      ['officer_id', 'STRING', 'Responsible loan officer'],
      ['repayment_frequency', 'CODE', 'Repayment frequency, one of MONTHLY, QUARTERLY, ANNUAL'],
      ['comment', 'STRING', 'Free text comment of the loan officer'],
    ],
  },
  customers: {
    dataset: 'core_banking',
    columns: [
      ['customer_id', 'STRING', 'Unique customer identifier'],
      ['legal_name', 'STRING', 'Legal name of the customer'],
      ['country_code', 'CODE', 'ISO 3166 country of residence'],
      ['customer_type', 'CODE', 'Customer type, one of RETAIL, SME, CORPORATE'],
      ['industry_code', 'CODE', 'NAICS industry code'],
      ['date_of_birth', 'DATE', 'Date of birth of a retail customer'],
      ['tax_id', 'STRING', 'Tax identification number'],
      ['kyc_status', 'CODE', 'Know your customer status'],
      ['onboarding_date', 'DATE', 'Date the customer was onboarded'],
      ['segment', 'CODE', 'Customer segment'],
      ['annual_income', 'DECIMAL', 'Declared annual income'],
      ['credit_score', 'INTEGER', 'Bureau credit score'],
      ['email', 'STRING', 'Contact email address'],
    ],
  },
  collateral: {
    dataset: 'core_banking',
    columns: [
      ['collateral_id', 'STRING', 'Unique collateral identifier'],
      ['loan_id', 'STRING', 'Loan the collateral secures'],
      ['collateral_type', 'CODE', 'Collateral type, one of PROPERTY, VEHICLE, CASH, SECURITIES'],
      ['valuation_amount', 'DECIMAL', 'Latest valuation amount of the collateral'],
      ['valuation_date', 'DATE', 'Date of the latest valuation'],
      ['currency', 'CODE', 'ISO 4217 currency of the valuation'],
      ['haircut', 'DECIMAL', 'Regulatory haircut as a fraction'],
      ['lien_position', 'INTEGER', 'Lien position'],
      ['appraiser', 'STRING', 'Appraiser name'],
      ['location_country', 'CODE', 'Country where the collateral is located'],
    ],
  },
  payments: {
    dataset: 'payments_hub',
    columns: [
      ['payment_id', 'STRING', 'Unique payment identifier'],
      ['loan_id', 'STRING', 'Loan the payment repays'],
      ['payment_date', 'DATE', 'Value date of the payment'],
      ['amount', 'DECIMAL', 'Payment amount'],
      ['currency', 'CODE', 'ISO 4217 currency of the payment'],
      ['channel', 'CODE', 'Payment channel'],
      ['status', 'CODE', 'Payment status'],
      ['principal_part', 'DECIMAL', 'Part of the payment applied to principal'],
      ['interest_part', 'DECIMAL', 'Part of the payment applied to interest'],
      ['fee_part', 'DECIMAL', 'Part of the payment applied to fees'],
    ],
  },
  general_ledger: {
    dataset: 'finance',
    columns: [
      ['account_id', 'STRING', 'General ledger account identifier'],
      ['account_name', 'STRING', 'Account name'],
      ['balance', 'DECIMAL', 'Account balance at period end'],
      ['currency', 'CODE', 'ISO 4217 currency of the account'],
      ['posting_date', 'DATE', 'Posting date'],
      ['cost_center', 'CODE', 'Cost center'],
      ['legal_entity', 'CODE', 'Legal entity code'],
      ['account_type', 'CODE', 'Asset, liability, equity, income or expense'],
      ['period', 'STRING', 'Accounting period'],
      ['reconciled', 'BOOLEAN', 'Whether the account was reconciled'],
    ],
  },
  exposures: {
    dataset: 'risk',
    columns: [
      ['exposure_id', 'STRING', 'Unique exposure identifier'],
      ['counterparty_id', 'STRING', 'Counterparty identifier'],
      ['loan_id', 'STRING', 'Loan behind the exposure'],
      ['exposure_amount', 'DECIMAL', 'Exposure at default amount'],
      ['risk_weight', 'DECIMAL', 'Regulatory risk weight'],
      ['rwa_amount', 'DECIMAL', 'Risk weighted assets amount'],
      ['approach', 'CODE', 'Standardised or IRB approach'],
      ['asset_class', 'CODE', 'Regulatory asset class'],
      ['pd', 'DECIMAL', 'Probability of default'],
      ['lgd', 'DECIMAL', 'Loss given default'],
      ['maturity_years', 'DECIMAL', 'Effective maturity in years'],
      ['reporting_date', 'DATE', 'Reporting date'],
    ],
  },
  provisions: {
    dataset: 'risk',
    columns: [
      ['loan_id', 'STRING', 'Loan the provision covers'],
      ['ecl_stage', 'CODE', 'IFRS 9 expected credit loss stage, one of 1, 2, 3'],
      ['ecl_amount', 'DECIMAL', 'Expected credit loss allowance amount'],
      ['pd_12m', 'DECIMAL', 'Twelve month probability of default'],
      ['pd_lifetime', 'DECIMAL', 'Lifetime probability of default'],
      ['lgd', 'DECIMAL', 'Loss given default'],
      ['ead', 'DECIMAL', 'Exposure at default'],
      ['write_off_amount', 'DECIMAL', 'Amount written off in the period'],
      ['recovery_amount', 'DECIMAL', 'Amount recovered in the period'],
      ['as_of_date', 'DATE', 'Date of the provision calculation'],
    ],
  },
  counterparties: {
    dataset: 'risk',
    columns: [
      ['counterparty_id', 'STRING', 'Unique counterparty identifier'],
      ['customer_id', 'STRING', 'Customer behind the counterparty'],
      ['lei', 'STRING', 'Legal entity identifier (20 characters)'],
      ['parent_id', 'STRING', 'Ultimate parent counterparty'],
      ['country_code', 'CODE', 'ISO 3166 country of incorporation'],
      ['sector', 'CODE', 'Institutional sector'],
      ['rating', 'CODE', 'External credit rating'],
      ['is_connected', 'BOOLEAN', 'Whether it belongs to a group of connected clients'],
      ['total_assets', 'DECIMAL', 'Total assets of the counterparty'],
      ['employees', 'INTEGER', 'Number of employees'],
      ['default_flag', 'BOOLEAN', 'Whether the counterparty is in default'],
      ['last_review_date', 'DATE', 'Date of the last credit review'],
    ],
  },
  fx_rates: {
    dataset: 'market_data',
    columns: [
      ['currency_pair', 'CODE', 'Currency pair such as EURUSD'],
      ['rate', 'DECIMAL', 'Exchange rate'],
      ['as_of_date', 'DATE', 'Date of the rate'],
      ['source', 'CODE', 'Rate source'],
      ['rate_type', 'CODE', 'Spot or average'],
    ],
  },
};

export interface DemoElement {
  dataset: string;
  table: string;
  column: string;
  dataType: string;
  description: string;
}

export const DEMO_CATALOG: DemoElement[] = Object.entries(TABLES).flatMap(([table, { dataset, columns }]) =>
  columns.map(([column, dataType, description]) => ({ dataset, table, column, dataType, description })),
);

export const DEMO_DATASET = {
  name: 'loans_2026q3',
  description: 'Loans held for investment at 2026-09-30 (synthetic, seeded)',
  table: 'loans',
  columns: TABLES.loans!.columns.map(([name, dataType]) => ({ name, dataType })),
  seed: 20260930,
};

const PRODUCTS = ['MORT', 'AUTO', 'CARD', 'SME', 'CRE'];
const CURRENCIES = ['USD', 'USD', 'USD', 'EUR', 'GBP', 'CAD'];
const STATUSES = ['CURRENT', 'CURRENT', 'CURRENT', 'CURRENT', 'DELINQUENT', 'DEFAULT', 'CLOSED'];
const GRADES = ['A', 'B', 'C', 'D', 'E'];
const FREQUENCIES = ['MONTHLY', 'MONTHLY', 'QUARTERLY', 'ANNUAL'];
const COMMENTS = ['', '', '', 'restructured in 2025', 'covenant waiver', 'watch list', 'refinanced'];

/**
 * Record `row` (1-based) of the demo dataset: a function of the row and the seed alone, so any
 * batch can be made (and made again after a crash) without the ones before it.
 */
export function demoRecord(row: number, seed = DEMO_DATASET.seed): Record<string, unknown> {
  const random = seededRandom(seed ^ Math.imul(row, 0x9e3779b1));
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)]!;
  const chance = (p: number) => random() < p;
  const day = (from: number, span: number) => new Date(Date.UTC(2000, 0, 1) + Math.floor(from + random() * span) * 86_400_000).toISOString().slice(0, 10);

  const product = pick(PRODUCTS);
  const principal = Math.round((product === 'MORT' || product === 'CRE' ? 50_000 + random() * 950_000 : 1_000 + random() * 60_000) * 100) / 100;
  const balance = Math.round(principal * random() * 100) / 100;
  const collateral = product === 'CARD' ? null : Math.round(principal * (0.8 + random() * 0.8) * 100) / 100;
  const status = pick(STATUSES);
  const origination = day(7_000, 2_000);
  const record: Record<string, unknown> = {
    loan_id: `L${String(row).padStart(8, '0')}`,
    customer_id: `C${String(1 + Math.floor(random() * 40_000)).padStart(7, '0')}`,
    product_code: product,
    currency: pick(CURRENCIES),
    principal_amount: principal,
    outstanding_balance: balance,
    interest_rate: Math.round((0.02 + random() * 0.18) * 10_000) / 10_000,
    origination_date: origination,
    maturity_date: day(9_500, 5_000),
    status,
    days_past_due: status === 'CURRENT' || status === 'CLOSED' ? 0 : Math.floor(1 + random() * 365),
    collateral_value: collateral,
    ltv_ratio: collateral ? Math.round((balance / collateral) * 10_000) / 10_000 : null,
    risk_grade: pick(GRADES),
    branch_code: `BR${String(1 + Math.floor(random() * 60)).padStart(3, '0')}`,
    officer_id: `E${String(1 + Math.floor(random() * 400)).padStart(5, '0')}`,
    repayment_frequency: pick(FREQUENCIES),
    comment: pick(COMMENTS),
  };
  // What a review should find, about 1 record in 50: missing, impossible, malformed, duplicated.
  if (chance(0.02)) {
    const flaw = Math.floor(random() * 7);
    if (flaw === 0) record.customer_id = null;
    else if (flaw === 1) record.outstanding_balance = -Math.abs(balance) - 1;
    else if (flaw === 2) record.currency = pick(['usd', 'US', 'XX1', '']);
    else if (flaw === 3) record.interest_rate = 1 + random() * 9;
    else if (flaw === 4) record.status = 'UNKNOWN';
    else if (flaw === 5) record.loan_id = `L${String(Math.max(1, row - 1)).padStart(8, '0')}`;
    else record.risk_grade = null;
  }
  return record;
}
