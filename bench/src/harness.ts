import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One row of bench/results.json: a figure, its same-run baseline, their ratio and the target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  ratio: number;
  target: number | null;
  notes?: string;
  /** When this row was measured and by which bench (results.json keeps rows of earlier runs of other benches). */
  measured_at?: string;
  bench?: string;
}

export interface Rate {
  perSecond: number;
  iterations: number;
  seconds: number;
}

/** Runs `fn` repeatedly for about `seconds` (after a short warm-up) and reports calls per second. */
export function measureSync(fn: () => void, seconds = 1.5): Rate {
  const warmUntil = performance.now() + Math.min(200, seconds * 200);
  while (performance.now() < warmUntil) fn();
  let iterations = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) fn();
    iterations += 100;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: iterations / elapsed, iterations, seconds: elapsed };
}

/**
 * Measures two functions in alternating rounds and keeps each one's best round, so load from
 * other processes on the machine biases neither side.
 */
export function compareSync(subject: () => void, baseline: () => void, options: { rounds?: number; seconds?: number } = {}): [Rate, Rate] {
  const rounds = options.rounds ?? 6;
  const perRound = (options.seconds ?? 3) / rounds;
  let best: [Rate, Rate] | null = null;
  for (let i = 0; i < rounds; i++) {
    const b = measureSync(baseline, perRound);
    const s = measureSync(subject, perRound);
    best = best ? [s.perSecond > best[0].perSecond ? s : best[0], b.perSecond > best[1].perSecond ? b : best[1]] : [s, b];
  }
  return best as [Rate, Rate];
}

/** Like measureSync with `concurrency` calls in flight at once. */
export async function measureAsync(
  fn: () => Promise<unknown>,
  options: { seconds?: number; concurrency?: number } = {},
): Promise<Rate & { latenciesMs: number[] }> {
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 16;
  const warmEnd = performance.now() + 300;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmEnd) await fn();
    }),
  );
  const latenciesMs: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await fn();
        latenciesMs.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: latenciesMs.length / elapsed, iterations: latenciesMs.length, seconds: elapsed, latenciesMs };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function result(
  name: string,
  value: Rate | number,
  unit: string,
  baseline: string,
  baselineValue: Rate | number,
  target: number | null,
  notes?: string,
): BenchResult {
  const v = typeof value === 'number' ? value : value.perSecond;
  const b = typeof baselineValue === 'number' ? baselineValue : baselineValue.perSecond;
  return {
    name,
    value: round(v),
    unit,
    baseline,
    baseline_value: round(b),
    ratio: Math.round((v / b) * 1000) / 1000,
    target,
    ...(notes ? { notes } : {}),
  };
}

function round(value: number): number {
  return value >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}

export function printTable(results: BenchResult[]): void {
  const rows = results.map((r) => [
    r.name,
    `${r.value} ${r.unit}`,
    `${r.baseline_value} (${r.baseline})`,
    r.ratio.toFixed(3),
    r.target === null ? '—' : `≥ ${r.target}`,
    r.target === null ? '' : r.ratio >= r.target ? 'met' : 'MISSED',
  ]);
  const header = ['benchmark', 'value', 'baseline', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

export const RESULTS_PATH = fileURLToPath(new URL('../results.json', import.meta.url));

export function writeResults(results: BenchResult[], extra: Record<string, unknown> = {}): void {
  writeFileSync(RESULTS_PATH, `${JSON.stringify({ ...extra, results }, null, 2)}\n`);
}

/** One round of a paired comparison: the subject's and the baseline's rates, measured back to back. */
export interface Pair<T> {
  subject: T;
  baseline: T;
  ratio: number;
}

/**
 * Runs the baseline and the subject back to back in several rounds (which goes first alternates)
 * and keeps the round whose ratio is the median: a burst of load from elsewhere on the machine
 * skews one round's pair, not the figure. `beforeSubject` runs before every subject round
 * (a cold measurement waits there for the answers it must not find).
 */
export async function pairedMedian<T>(
  subject: () => Promise<T>,
  baseline: () => Promise<T>,
  rateOf: (measurement: T) => number,
  options: { rounds: number; beforeSubject?: () => Promise<void> },
): Promise<{ median: Pair<T>; ratios: number[] }> {
  const runSubject = async () => {
    await options.beforeSubject?.();
    return subject();
  };
  const pairs: Array<Pair<T>> = [];
  for (let i = 0; i < options.rounds; i++) {
    let s: T;
    let b: T;
    if (i % 2 === 0) {
      b = await baseline();
      s = await runSubject();
    } else {
      s = await runSubject();
      b = await baseline();
    }
    pairs.push({ subject: s, baseline: b, ratio: rateOf(s) / rateOf(b) });
  }
  const median = [...pairs].sort((x, y) => x.ratio - y.ratio)[Math.floor(pairs.length / 2)] as Pair<T>;
  return { median, ratios: pairs.map((pair) => pair.ratio) };
}

/** Resolves at the start of the next whole second (answers kept "for the rest of their second" are then gone). */
export function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}

/** The best of `rounds` short rounds of `fn`, `seconds` in all: a ceiling, so the best round is the one least disturbed. */
export function bestOf(fn: () => void, options: { rounds?: number; seconds?: number } = {}): Rate {
  const rounds = options.rounds ?? 6;
  const perRound = (options.seconds ?? 3) / rounds;
  let best: Rate | null = null;
  for (let i = 0; i < rounds; i++) {
    const rate = measureSync(fn, perRound);
    if (!best || rate.perSecond > best.perSecond) best = rate;
  }
  return best as Rate;
}
