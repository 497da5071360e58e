/**
 * Word matching for the heuristic client: catalog names (`loan_amt`, `interestRate`) and prose
 * ("loan amounts") brought to comparable stems, and the similarity measures over them. Crude on
 * purpose: deterministic, dependency-free, good enough to rank a catalog.
 */

/** Abbreviations common in column names, spelled out so they meet the prose. */
const ABBREVIATIONS: Readonly<Record<string, string>> = {
  amt: 'amount',
  bal: 'balance',
  dt: 'date',
  ccy: 'currency',
  cur: 'currency',
  curr: 'currency',
  cd: 'code',
  nbr: 'number',
  num: 'number',
  pct: 'percent',
  perc: 'percent',
  qty: 'quantity',
  acct: 'account',
  cust: 'customer',
  desc: 'description',
  addr: 'address',
  txn: 'transaction',
  trx: 'transaction',
  ctry: 'country',
  cntry: 'country',
};

/** Shown upper-case in readable names. */
const ACRONYMS = new Set(['id', 'iso', 'lei', 'isin', 'cusip', 'ltv', 'dti', 'fico', 'apr', 'rwa', 'ead', 'lgd', 'pd', 'uuid', 'url', 'usd', 'eur']);

const STOPWORDS = new Set(
  ('a an and are as at be by each for from has have in is it its of on or per that the their this to was were which with ' +
    'all any one either we our us will shall must should may can report reports reported reporting field fields value values record records')
    .split(' '),
);

/** The words of a name or a text, lower-case: snake_case, kebab-case, camelCase and ACRONYMCase split. */
export function rawWords(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** rawWords with abbreviations spelled out: what a reader would write. */
export function words(text: string): string[] {
  return rawWords(text).map((word) => ABBREVIATIONS[word] ?? word);
}

/** A light suffix-stripper: enough that "loans", "rates" and "rated" meet "loan" and "rate". */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3) return w === 'ids' ? 'id' : w;
  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = w.slice(0, -3);
  else if (w.endsWith('ed') && w.length > 4) w = w.slice(0, -2);
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

/** The stems of a text's meaningful words, in order (repeats kept). */
export function stems(text: string): string[] {
  return words(text)
    .filter((word) => !STOPWORDS.has(word))
    .map(stem);
}

export function stemSet(text: string): Set<string> {
  return new Set(stems(text));
}

/** "loan_amt" → "Loan Amount", "lei_code" → "LEI Code". */
export function readable(text: string): string {
  return words(text)
    .map((word) => (ACRONYMS.has(word) ? word.toUpperCase() : word.charAt(0).toUpperCase() + word.slice(1)))
    .join(' ');
}

/** "loans" → "loan", "facilities" → "facility": for prefixing a bare column with its table. */
export function singular(word: string): string {
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (word.endsWith('s') && !/(ss|us|is)$/.test(word) && word.length > 3) return word.slice(0, -1);
  return word;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let shared = 0;
  for (const item of a) if (b.has(item)) shared++;
  return shared / (a.size + b.size - shared);
}

/** Dice coefficient over character trigrams: catches spellings that share no whole word ("amnt"). */
export function trigramSimilarity(a: string, b: string): number {
  const grams = (text: string) => {
    const padded = `  ${text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim()} `;
    const set = new Set<string>();
    for (let i = 0; i + 3 <= padded.length; i++) set.add(padded.slice(i, i + 3));
    return set;
  };
  const [ga, gb] = [grams(a), grams(b)];
  if (ga.size === 0 || gb.size === 0) return 0;
  let shared = 0;
  for (const gram of ga) if (gb.has(gram)) shared++;
  return (2 * shared) / (ga.size + gb.size);
}

export const round2 = (n: number): number => Math.round(n * 100) / 100;

export const clamp01 = (n: number): number => Math.min(1, Math.max(0, n));

/** Cut to `max` characters (schemas bound every string). */
export const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Locale-independent string order, for deterministic tie-breaks. */
export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
