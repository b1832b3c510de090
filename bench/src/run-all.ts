// `npm run bench [name…]`: runs the benchmarks, prints a table and writes bench/results.json.
// A run of some benches replaces their rows in results.json by name and keeps the others, so
// the file holds a full set after re-running only what changed.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { benchBlobListing } from './blob-listing.js';
import { benchDns } from './dns.js';
import { benchDnsLoad } from './dns-load.js';
import { benchDnsZone } from './dns-zone.js';
import { benchGrowth } from './growth.js';
import { type BenchResult, printTable, RESULTS_PATH, writeResults } from './harness.js';
import { benchHttpRoutes } from './http-routes.js';
import { benchMillion } from './million.js';
import { benchMove } from './move.js';
import { benchObservability } from './observability.js';
import { benchProviderBeats } from './provider-beats.js';
import { benchProvisioning } from './provisioning.js';
import { type SwarmUnderTest, startSwarmProcess } from './swarm.js';
import { benchTokenCold } from './token-cold.js';
import { benchVerify } from './verify.js';

type Bench = (swarm: SwarmUnderTest) => Promise<BenchResult[]> | BenchResult[];
/** Name, whether it needs the local swarm (started once, shared), what it runs. */
const benches: Array<[string, boolean, Bench]> = [
  ['verify', false, () => benchVerify()],
  ['http', true, benchHttpRoutes],
  ['token-cold', true, benchTokenCold],
  ['dns', true, benchDns],
  ['provisioning', true, benchProvisioning],
  ['growth', false, () => benchGrowth()],
  ['dns-load', false, () => benchDnsLoad()],
  ['dns-zone', false, () => benchDnsZone()],
  ['provider-beats', false, () => benchProviderBeats()],
  ['million', false, () => benchMillion()],
  ['observability', false, () => benchObservability()],
  ['listing', false, () => benchBlobListing()],
  ['move', false, () => benchMove()],
];

const only = process.argv.slice(2);
const unknown = only.filter((name) => !benches.some(([known]) => known === name));
if (unknown.length > 0) throw new Error(`unknown bench ${unknown.join(', ')}; known: ${benches.map(([name]) => name).join(', ')}`);
const selected = benches.filter(([name]) => only.length === 0 || only.includes(name));
const results: BenchResult[] = [];
let swarm: SwarmUnderTest | null = null;
try {
  for (const [name, needsSwarm, run] of selected) {
    if (needsSwarm && !swarm) swarm = await startSwarmProcess();
    // The benches that start their own registries run without the swarm's timers beside them.
    if (!needsSwarm && swarm) {
      await swarm.stop();
      swarm = null;
    }
    process.stderr.write(`running ${name}…\n`);
    results.push(...(await run(swarm as SwarmUnderTest)).map((r) => ({ ...r, bench: name })));
  }
} finally {
  await swarm?.stop();
}
printTable(results);

const measuredAt = new Date().toISOString();
const previous: BenchResult[] = existsSync(RESULTS_PATH) ? (JSON.parse(readFileSync(RESULTS_PATH, 'utf8')).results ?? []) : [];
const ran = new Set(selected.map(([name]) => name));
const fresh = new Map(results.map((r) => [r.name, { ...r, measured_at: measuredAt }]));
// Rows of a bench that ran now are replaced (a renamed figure leaves no stale row); a full run
// replaces everything. The others keep their place; a row measured now replaces the old one of
// its name, new ones go last.
const kept = selected.length === benches.length ? [] : previous.filter((r) => !(r.bench && ran.has(r.bench)));
const merged = [...kept.map((r) => fresh.get(r.name) ?? r), ...[...fresh.values()].filter((r) => !kept.some((old) => old.name === r.name))];
writeResults(merged, {
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  measured_at: measuredAt,
});
console.log(`\nwrote ${RESULTS_PATH} (${results.length} rows measured now, ${merged.length - results.length} kept from before)`);
