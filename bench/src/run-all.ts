// `npm run bench`: runs every benchmark, prints a table and writes bench/results.json.
import { cpus, totalmem } from 'node:os';
import { type BenchResult, printTable, RESULTS_PATH, writeResults } from './harness.js';
import { benchVerify } from './verify.js';

const only = process.argv.slice(2);
const benches: Array<[string, () => Promise<BenchResult[]> | BenchResult[]]> = [['verify', () => benchVerify()]];

const results: BenchResult[] = [];
for (const [name, run] of benches) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stderr.write(`running ${name}…\n`);
  results.push(...(await run()));
}
printTable(results);
writeResults(results, {
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  measured_at: new Date().toISOString(),
});
console.log(`\nwrote ${RESULTS_PATH}`);
