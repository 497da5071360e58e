/**
 * The LIMITS setting: budgets for named limits, as an operator writes them in one variable.
 * `llm:requests=60/1m,tokens=90000/1m,concurrency=8;crm:requests=10/1s` — limits separated by ";",
 * each `name:key=value,…`, keys `requests` and `tokens` (`count/period`), `concurrency` (a number),
 * any of them `off`.
 */
import { parsePeriod } from './duration.ts';

export const LIMIT_NAME = /^[a-z][A-Za-z0-9_-]*$/;

export interface Rate {
  readonly count: number;
  /** The window, as people write it: '1m', '10s'. */
  readonly per: string;
}

/** What LIMITS sets of one limit; null removes that bound. */
export interface LimitOverride {
  requests?: Rate | null;
  tokens?: Rate | null;
  concurrency?: number | null;
}

/** Parses LIMITS (above); throws naming what is wrong. */
export function parseLimitsSetting(text: string): Map<string, LimitOverride> {
  const overrides = new Map<string, LimitOverride>();
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    const name = (colon < 0 ? part : part.slice(0, colon)).trim();
    if (!LIMIT_NAME.test(name)) throw new Error(`"${part}": a limit is name:key=value,… (name like llm)`);
    const override: LimitOverride = overrides.get(name) ?? {};
    for (const pair of (colon < 0 ? '' : part.slice(colon + 1)).split(',').map((p) => p.trim()).filter(Boolean)) {
      const [key, value, extra] = pair.split('=').map((p) => p.trim());
      if (!value || extra !== undefined) throw new Error(`"${pair}" in limit ${name}: write key=value`);
      if (key === 'requests' || key === 'tokens') override[key] = value === 'off' ? null : parseRate(name, key, value);
      else if (key === 'concurrency') override.concurrency = value === 'off' ? null : parseCount(name, key, value);
      else throw new Error(`"${key}" in limit ${name}: the keys are requests, tokens and concurrency`);
    }
    overrides.set(name, override);
  }
  return overrides;
}

function parseRate(name: string, key: string, value: string): Rate {
  const slash = value.indexOf('/');
  if (slash < 0) throw new Error(`${key}=${value} in limit ${name}: write count/period, e.g. 60/1m`);
  const per = value.slice(slash + 1).trim();
  parsePeriod(per);
  return { count: parseCount(name, key, value.slice(0, slash)), per };
}

function parseCount(name: string, key: string, text: string): number {
  const count = Number(text.trim());
  if (!Number.isInteger(count) || count < 1) throw new Error(`${key} in limit ${name}: "${text}" is not a whole number of at least 1`);
  return count;
}

