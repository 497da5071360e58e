const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/**
 * A period as people write it ('90s', '30m', '12h', '7d', '2w') in ms, or Infinity for 'forever'.
 * Throws on anything else, naming the accepted forms.
 */
export function parsePeriod(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'forever') return Infinity;
  const match = DURATION.exec(trimmed);
  if (!match) throw new Error(`"${text}" is not a period: write a number and a unit (ms, s, m, h, d, w), e.g. 7d or 12h, or "forever"`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** The period back in the largest unit up to days that divides it ('7d', '90m'), or 'forever'. */
export function formatPeriod(ms: number): string {
  if (ms === Infinity) return 'forever';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
