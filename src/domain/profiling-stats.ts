/**
 * Column statistics computed in one pass, in bounded memory, from a state that is plain JSON: the
 * profiler saves it as its checkpoint, so a retry resumes where the last batch ended.
 *
 * - distinct: a k-minimum-values sketch (exact below K values, an estimate above);
 * - top values and patterns: Misra–Gries counters (exact while a column has fewer distinct values
 *   than counters, approximate, never over, above that).
 */

const KMV_SIZE = 256;
const TOP_COUNTERS = 32;
const PATTERN_COUNTERS = 16;
const MAX_TEXT = 40;

export interface ColumnState {
  count: number;
  nulls: number;
  /** Values that read as numbers: their count, sum, min and max. */
  numbers: number;
  sum: number;
  minNumber: number | null;
  maxNumber: number | null;
  /** The other values, compared as text (ISO dates order as text). */
  minText: string | null;
  maxText: string | null;
  /** The KMV_SIZE smallest hashes seen, ascending, in [0, 1). */
  hashes: number[];
  top: Record<string, number>;
  patterns: Record<string, number>;
}

export interface ColumnStats {
  column: string;
  count: number;
  nulls: number;
  nullRate: number;
  distinct: number;
  /** True when `distinct` is exact (fewer distinct values than the sketch holds). */
  distinctExact: boolean;
  min: number | string | null;
  max: number | string | null;
  mean: number | null;
  topValues: { value: string; count: number }[];
  patterns: { pattern: string; count: number }[];
}

export function emptyColumn(): ColumnState {
  return { count: 0, nulls: 0, numbers: 0, sum: 0, minNumber: null, maxNumber: null, minText: null, maxText: null, hashes: [], top: {}, patterns: {} };
}

export function addValue(state: ColumnState, value: unknown): void {
  state.count++;
  if (value === null || value === undefined || value === '') {
    state.nulls++;
    return;
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) {
    state.numbers++;
    state.sum += value;
    state.minNumber = state.minNumber === null ? value : Math.min(state.minNumber, value);
    state.maxNumber = state.maxNumber === null ? value : Math.max(state.maxNumber, value);
  } else {
    if (state.minText === null || text < state.minText) state.minText = text;
    if (state.maxText === null || text > state.maxText) state.maxText = text;
  }
  addHash(state.hashes, hash(text));
  countBounded(state.top, text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text, TOP_COUNTERS);
  countBounded(state.patterns, patternOf(text), PATTERN_COUNTERS);
}

export function finish(column: string, state: ColumnState): ColumnStats {
  const exact = state.hashes.length < KMV_SIZE;
  const distinct = exact ? state.hashes.length : Math.round((KMV_SIZE - 1) / state.hashes[KMV_SIZE - 1]!);
  const numeric = state.numbers > 0 && state.numbers >= state.count - state.nulls;
  return {
    column,
    count: state.count,
    nulls: state.nulls,
    nullRate: state.count === 0 ? 0 : state.nulls / state.count,
    distinct,
    distinctExact: exact,
    min: numeric ? state.minNumber : (state.minText ?? state.minNumber),
    max: numeric ? state.maxNumber : (state.maxText ?? state.maxNumber),
    mean: state.numbers > 0 ? state.sum / state.numbers : null,
    topValues: ranked(state.top).map(([value, count]) => ({ value, count })),
    patterns: ranked(state.patterns).map(([pattern, count]) => ({ pattern, count })),
  };
}

/** A value's shape: letters A, digits 9, the rest as is ("2026-11-30" → "9999-99-99"). */
export function patternOf(text: string): string {
  const shape = text.replace(/[A-Za-z]/g, 'A').replace(/[0-9]/g, '9');
  return shape.length > MAX_TEXT ? `${shape.slice(0, MAX_TEXT)}…` : shape;
}

function ranked(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 5);
}

/** Misra–Gries: at most `k` counters; a new key when all are taken lowers every counter by one. */
function countBounded(counts: Record<string, number>, key: string, k: number): void {
  if (key in counts) {
    counts[key]!++;
    return;
  }
  const keys = Object.keys(counts);
  if (keys.length < k) {
    counts[key] = 1;
    return;
  }
  for (const other of keys) if (--counts[other]! === 0) delete counts[other];
}

function addHash(hashes: number[], h: number): void {
  if (hashes.length === KMV_SIZE && h >= hashes[KMV_SIZE - 1]!) return;
  let lo = 0;
  let hi = hashes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  if (hashes[lo] === h) return;
  hashes.splice(lo, 0, h);
  if (hashes.length > KMV_SIZE) hashes.pop();
}

/** FNV-1a (32 bit) then a murmur finalizer, into [0, 1). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
