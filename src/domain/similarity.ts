/** Word overlap between names and descriptions: how the catalog is narrowed before an LLM call. */

const STOP = new Set(['the', 'of', 'a', 'an', 'and', 'or', 'at', 'as', 'to', 'in', 'for', 'by', 'is', 'one', 'its', 'on', 'with']);

/** Lower-case word stems of a text; snake_case and camelCase split. */
export function words(text: string): Set<string> {
  const split = text.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/);
  return new Set(split.filter((w) => w.length > 1 && !STOP.has(w)).map(stem));
}

function stem(word: string): string {
  return word.replace(/(ies)$/, 'y').replace(/(es|s)$/, '').replace(/(ing|ed)$/, '');
}

/** Jaccard similarity of two texts' words, 0..1. */
export function similarity(a: string, b: string): number {
  const x = words(a);
  const y = words(b);
  if (x.size === 0 || y.size === 0) return 0;
  let shared = 0;
  for (const w of x) if (y.has(w)) shared++;
  return shared / (x.size + y.size - shared);
}

/** The `n` items most similar to `text`, best first (ties keep their order). */
export function mostSimilar<T>(text: string, items: T[], textOf: (item: T) => string, n: number): T[] {
  return items
    .map((item, i) => ({ item, i, score: similarity(text, textOf(item)) }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, n)
    .map((scored) => scored.item);
}
