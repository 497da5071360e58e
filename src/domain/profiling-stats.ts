/**
 * Column statistics computed in one pass, in bounded memory, from a state that round-trips through
 * JSON: the profiler saves it as its checkpoint, so a retry resumes where the last page ended.
 *
 * - distinct: a k-minimum-values sketch (exact below KMV_SIZE values, an estimate above);
 * - top values and patterns: Misra–Gries counters (exact while a column has fewer distinct values
 *   than counters, approximate, never over, above that).
 */

import { z } from 'zod';

const KMV_SIZE = 256;
const TOP_COUNTERS = 32;
const PATTERN_COUNTERS = 16;
const MAX_TEXT = 40;

/** A column's statistics as a checkpoint keeps them (JSON). Top keys carry their type: "#12" a number, "$12" a text. */
export interface ColumnState {
  count: number;
  nulls: number;
  /** Values that are numbers: their count, sum, min and max. */
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

/** A ColumnState read back from a checkpoint: the shape it must have. */
export const columnStateSchema = z.object({
  count: z.number(),
  nulls: z.number(),
  numbers: z.number(),
  sum: z.number(),
  minNumber: z.number().nullable(),
  maxNumber: z.number().nullable(),
  minText: z.string().nullable(),
  maxText: z.string().nullable(),
  hashes: z.array(z.number()),
  top: z.record(z.string(), z.number()),
  patterns: z.record(z.string(), z.number()),
}) satisfies z.ZodType<ColumnState>;

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

/**
 * One column's statistics while a pass runs: Maps for the counters (an object used as a map goes
 * to slow dictionary mode), numbers hashed without making strings. JSON.stringify writes its
 * ColumnState (toJSON); `from` reads one back.
 */
export class ColumnProfile {
  count = 0;
  nulls = 0;
  numbers = 0;
  sum = 0;
  minNumber: number | null = null;
  maxNumber: number | null = null;
  minText: string | null = null;
  maxText: string | null = null;
  readonly hashes: number[] = [];
  readonly top = new Map<string | number, number>();
  readonly patterns = new Map<string, number>();

  static from(state: ColumnState): ColumnProfile {
    const profile = new ColumnProfile();
    profile.count = state.count;
    profile.nulls = state.nulls;
    profile.numbers = state.numbers;
    profile.sum = state.sum;
    profile.minNumber = state.minNumber;
    profile.maxNumber = state.maxNumber;
    profile.minText = state.minText;
    profile.maxText = state.maxText;
    profile.hashes.push(...state.hashes);
    for (const [key, n] of Object.entries(state.top)) profile.top.set(key.startsWith('#') ? Number(key.slice(1)) : key.slice(1), n);
    for (const [key, n] of Object.entries(state.patterns)) profile.patterns.set(key, n);
    return profile;
  }

  add(value: unknown): void {
    this.count++;
    if (value === null || value === undefined || value === '') {
      this.nulls++;
      return;
    }
    if (typeof value === 'number' && Number.isFinite(value)) {
      this.numbers++;
      this.sum += value;
      if (this.minNumber === null || value < this.minNumber) this.minNumber = value;
      if (this.maxNumber === null || value > this.maxNumber) this.maxNumber = value;
      addHash(this.hashes, hashNumber(value));
      countBounded(this.top, value, TOP_COUNTERS);
      countBounded(this.patterns, patternOf(String(value)), PATTERN_COUNTERS);
      return;
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (this.minText === null || text < this.minText) this.minText = text;
    if (this.maxText === null || text > this.maxText) this.maxText = text;
    addHash(this.hashes, hashText(text));
    countBounded(this.top, text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text, TOP_COUNTERS);
    countBounded(this.patterns, patternOf(text), PATTERN_COUNTERS);
  }

  toJSON(): ColumnState {
    const top: Record<string, number> = {};
    for (const [key, n] of this.top) top[typeof key === 'number' ? `#${key}` : `$${key}`] = n;
    const { count, nulls, numbers, sum, minNumber, maxNumber, minText, maxText } = this;
    return { count, nulls, numbers, sum, minNumber, maxNumber, minText, maxText, hashes: [...this.hashes], top, patterns: Object.fromEntries(this.patterns) };
  }

  finish(column: string): ColumnStats {
    const exact = this.hashes.length < KMV_SIZE;
    const distinct = exact ? this.hashes.length : Math.round((KMV_SIZE - 1) / this.hashes[KMV_SIZE - 1]!);
    const numeric = this.numbers > 0 && this.numbers >= this.count - this.nulls;
    return {
      column,
      count: this.count,
      nulls: this.nulls,
      nullRate: this.count === 0 ? 0 : this.nulls / this.count,
      distinct,
      distinctExact: exact,
      min: numeric ? this.minNumber : (this.minText ?? this.minNumber),
      max: numeric ? this.maxNumber : (this.maxText ?? this.maxNumber),
      mean: this.numbers > 0 ? this.sum / this.numbers : null,
      topValues: ranked(this.top).map(([value, count]) => ({ value: String(value), count })),
      patterns: ranked(this.patterns).map(([pattern, count]) => ({ pattern, count })),
    };
  }
}

/** A value's shape: letters A, digits 9, the rest as is ("2026-11-30" → "9999-99-99"). */
export function patternOf(text: string): string {
  const shape = text.replace(LETTERS, 'A').replace(DIGITS, '9');
  return shape.length > MAX_TEXT ? `${shape.slice(0, MAX_TEXT)}…` : shape;
}
const LETTERS = /[A-Za-z]/g;
const DIGITS = /[0-9]/g;

function ranked<K extends string | number>(counts: Map<K, number>): [K, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : 1)).slice(0, 5);
}

/** Misra–Gries: at most `k` counters; a new key when all are taken lowers every counter by one. */
function countBounded<K>(counts: Map<K, number>, key: K, k: number): void {
  const n = counts.get(key);
  if (n !== undefined) counts.set(key, n + 1);
  else if (counts.size < k) counts.set(key, 1);
  else {
    for (const [other, m] of counts) {
      if (m === 1) counts.delete(other);
      else counts.set(other, m - 1);
    }
  }
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
function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return finalize(h);
}

const FLOAT = new Float64Array(1);
const WORDS = new Uint32Array(FLOAT.buffer);
/** A number's 64 bits mixed into [0, 1), with no string made. */
function hashNumber(value: number): number {
  FLOAT[0] = value;
  return finalize(Math.imul(WORDS[0]! ^ 0x9e3779b9, 0x85ebca6b) ^ WORDS[1]!);
}

function finalize(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
