/** A seeded PRNG (mulberry32): the same seed gives the same numbers on every machine and run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Chooses `size` of `rows` without replacement, each with probability in proportion to its weight
 * (Efraimidis–Spirakis: keep the largest keys u^(1/w)). Equal weights make it a uniform sample.
 * Deterministic for a seed and the same rows in the same order.
 */
export function weightedChoice(rows: { row: number; weight: number }[], size: number, random: () => number): number[] {
  const keyed = rows.map(({ row, weight }) => ({ row, key: weight > 0 ? Math.log(random()) / weight : -Infinity }));
  keyed.sort((a, b) => b.key - a.key || a.row - b.row);
  return keyed.slice(0, size).map((k) => k.row);
}
