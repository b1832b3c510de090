// `npm run bench [name…]`: runs the benchmarks, prints a table and writes bench/results.json.
import { cpus, totalmem } from 'node:os';
import { benchBlobListing } from './blob-listing.js';
import { benchDns } from './dns.js';
import { benchGrowth } from './growth.js';
import { type BenchResult, printTable, RESULTS_PATH, writeResults } from './harness.js';
import { benchHttpRoutes } from './http-routes.js';
import { benchProvisioning } from './provisioning.js';
import { type SwarmUnderTest, startSwarmProcess } from './swarm.js';
import { benchVerify } from './verify.js';

type Bench = (swarm: SwarmUnderTest) => Promise<BenchResult[]> | BenchResult[];
const benches: Array<[string, Bench]> = [
  ['verify', () => benchVerify()],
  ['http', benchHttpRoutes],
  ['dns', benchDns],
  ['provisioning', benchProvisioning],
  ['growth', () => benchGrowth()],
  ['listing', () => benchBlobListing()],
];

const only = process.argv.slice(2);
const selected = benches.filter(([name]) => only.length === 0 || only.includes(name));
const results: BenchResult[] = [];
let swarm: SwarmUnderTest | null = null;
try {
  for (const [name, run] of selected) {
    if (name !== 'verify' && name !== 'growth' && name !== 'listing' && !swarm) swarm = await startSwarmProcess();
    process.stderr.write(`running ${name}…\n`);
    results.push(...(await run(swarm as SwarmUnderTest)));
  }
} finally {
  await swarm?.stop();
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
