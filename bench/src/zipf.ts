/** mulberry32: a small seeded generator, so every run asks the same sequence of questions. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` indexes in [0, n) drawn from a Zipf distribution with exponent `s` (1 by default:
 * the second most asked app is asked half as often as the first, the tenth a tenth as often),
 * which is how lookups of names spread in practice: a few apps hot, a long tail cold.
 */
export function zipfSample(n: number, count: number, options: { s?: number; seed?: number } = {}): Uint32Array {
  const s = options.s ?? 1;
  const random = seededRandom(options.seed ?? 1);
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let rank = 0; rank < n; rank++) {
    total += 1 / (rank + 1) ** s;
    cumulative[rank] = total;
  }
  // Ranks are not indexes: a shuffled mapping, so the hot apps are spread over the seeded ones.
  const rankToIndex = shuffled(n, (options.seed ?? 1) + 1);
  const sample = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const target = random() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((cumulative[mid] as number) < target) low = mid + 1;
      else high = mid;
    }
    sample[i] = rankToIndex[low] as number;
  }
  return sample;
}

/** 0…n-1 in a seeded random order (Fisher–Yates). */
export function shuffled(n: number, seed = 1): Uint32Array {
  const random = seededRandom(seed);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = order[i] as number;
    order[i] = order[j] as number;
    order[j] = swap;
  }
  return order;
}

/** Endless iteration over a list, shared by every connection of a load (each item once per pass). */
export function cycle<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => {
    const item = items[next] as T;
    next = next + 1 === items.length ? 0 : next + 1;
    return item;
  };
}
