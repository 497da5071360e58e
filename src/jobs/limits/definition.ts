/**
 * Shared limits as code declares them (`defineLimit`) and configuration overrides them (LIMITS):
 * requests and tokens per window, and calls at once, for the whole deployment.
 */
import { formatPeriod, parsePeriod } from '../../lib/duration.ts';
import type { LimitBounds } from '../ledger/limits.ts';
import { LIMIT_NAME, type LimitOverride, type Rate } from '../../lib/limits-setting.ts';

export type { LimitOverride, Rate };

export interface LimitDefinition {
  readonly name: string;
  readonly description?: string;
  /** At most `count` requests in any window of `per`, across every process. */
  readonly requests?: Rate;
  /** At most `count` tokens in any window of `per` (estimated when taken, settled with the provider's count). */
  readonly tokens?: Rate;
  /** At most this many held at once, across every process. */
  readonly concurrency?: number;
}

/** A limit as it applies: its definition with the configuration's overrides, windows in ms. */
export interface ResolvedLimit {
  readonly name: string;
  readonly description: string | null;
  readonly requests: { count: number; perMs: number } | null;
  readonly tokens: { count: number; perMs: number } | null;
  readonly concurrency: number | null;
  /** What a take is given: each window counted a little longer than declared (see windowMargin). */
  readonly bounds: LimitBounds;
}

/** Declares a limit; checks it at once, so a typo stops startup. */
export function defineLimit(definition: LimitDefinition): LimitDefinition {
  resolveLimit(definition);
  return definition;
}

/**
 * A use counts from when its call ended (LimitLedger.settle), after the provider saw it; the
 * provider's clock and its windows' edges are its own, so each window is counted this much longer
 * than declared, to stay inside the provider's count rather than on its edge.
 */
export function windowMargin(perMs: number): number {
  return Math.min(250, Math.floor(perMs / 10));
}

export function resolveLimit(definition: LimitDefinition): ResolvedLimit {
  if (!LIMIT_NAME.test(definition.name)) throw new Error(`Limit name "${definition.name}" must start with a lower-case letter and hold only letters, digits, "_" and "-"`);
  const rate = (kind: string, value: Rate | undefined) => {
    if (!value) return null;
    if (!Number.isInteger(value.count) || value.count < 1) throw new Error(`Limit ${definition.name}: ${kind} count must be a whole number of at least 1, not ${value.count}`);
    const perMs = parsePeriod(value.per);
    if (!Number.isFinite(perMs) || perMs < 1) throw new Error(`Limit ${definition.name}: ${kind} window must be a finite period, not "${value.per}"`);
    return { count: value.count, perMs };
  };
  const requests = rate('requests', definition.requests);
  const tokens = rate('tokens', definition.tokens);
  const concurrency = definition.concurrency ?? null;
  if (concurrency !== null && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new Error(`Limit ${definition.name}: concurrency must be a whole number of at least 1, not ${concurrency}`);
  }
  return {
    name: definition.name,
    description: definition.description ?? null,
    requests,
    tokens,
    concurrency,
    bounds: {
      maxRequests: requests?.count ?? 0,
      requestsWindowMs: requests ? requests.perMs + windowMargin(requests.perMs) : 0,
      maxTokens: tokens?.count ?? 0,
      tokensWindowMs: tokens ? tokens.perMs + windowMargin(tokens.perMs) : 0,
      concurrency: concurrency ?? 0,
    },
  };
}

/** The limits a deployment applies: code's definitions, then LIMITS over them (which may add more). */
export function applyOverrides(definitions: readonly LimitDefinition[], overrides: ReadonlyMap<string, LimitOverride>): ResolvedLimit[] {
  const merged = new Map<string, LimitDefinition>(definitions.map((d) => [d.name, d]));
  for (const [name, override] of overrides) {
    const base: LimitDefinition = merged.get(name) ?? { name };
    const next: { -readonly [K in keyof LimitDefinition]: LimitDefinition[K] } = { ...base };
    for (const key of ['requests', 'tokens', 'concurrency'] as const) {
      if (!(key in override)) continue;
      const value = override[key];
      if (value === null) delete next[key];
      else (next as Record<string, unknown>)[key] = value;
    }
    merged.set(name, next);
  }
  return [...merged.values()].map(resolveLimit).sort((a, b) => a.name.localeCompare(b.name));
}

/** "60/1m" — for messages and GraphQL. */
export function describeRate(rate: { count: number; perMs: number }): string {
  return `${rate.count}/${formatPeriod(rate.perMs)}`;
}
