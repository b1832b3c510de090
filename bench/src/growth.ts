import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@swarm/dev-env';
import type { RegistryOptions } from '@swarm/registry';
import { BEATING_INSTANCES, type BeatReport, describeBeats, HEARTBEAT_INTERVAL_SECONDS, type SeedFile, startBeats } from './beats.js';
import { seedDatabase } from './db-seed.js';
import { BACKENDS, type Backend } from './dns-load.js';
import { type BenchResult, result } from './harness.js';
import { compareHttp, type HttpComparison, latencyOf, spreadOf } from './http-load.js';
import { machineWindow } from './machine-load.js';
import { freshDatabase } from './postgres.js';
import { type RegistryProcess, residentMb, startRegistryProcess } from './registry-part.js';
import { cycle, zipfSample } from './zipf.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** A registry's storage: a temp SQLite folder or a fresh PostgreSQL database, and how to seed it. */
async function storage(backend: Backend) {
  const dir = tempDir('growth');
  if (backend === 'SQLite') {
    return {
      dir: dir.path,
      options: { dataDir: dir.path },
      database: { file: join(dir.path, 'registry.db') },
      remove: async () => dir.remove(),
    };
  }
  const db = await freshDatabase();
  return {
    dir: dir.path,
    options: { databaseUrl: db.url },
    database: { url: db.url },
    remove: async () => {
      dir.remove();
      await db.drop();
    },
  };
}

// The answer cache is off: these registries measure the database at size, not the cache.
const MEASURED: RegistryOptions = { dnsPort: false, lookupCacheEntries: 0 };

async function onBackend(backend: Backend, apps: number, bindingsPerApp: number): Promise<BenchResult[]> {
  const small = await storage(backend);
  const large = await storage(backend);
  try {
    // Start once on each so the migrations create the tables, then fill them.
    for (const s of [small, large]) await (await startRegistryProcess({ ...MEASURED, ...s.options })).stop();
    const smallFile = join(small.dir, 'instances.json');
    await seedDatabase({ database: small.database, apps: 1, instancesPerApp: 10, beating: 1, file: smallFile });
    // Of the 1 000 000 instances, the first of each of the first 10 000 apps beats through the
    // registry's route at the real interval; the others last beat an hour ago (unhealthy: still
    // listed over HTTP, left out of DNS), since this machine cannot carry 100 000 beats a second.
    const largeFile = join(large.dir, 'instances.json');
    const seeded = await seedDatabase({
      database: large.database,
      apps,
      instancesPerApp: bindingsPerApp,
      beating: Math.min(apps, BEATING_INSTANCES),
      idleLastBeatAt: Math.floor(Date.now() / 1000) - 3600,
      file: largeFile,
    });
    process.stderr.write(`  ${backend}: filled ${apps} apps / ${seeded.instances} bindings in ${seeded.seconds.toFixed(1)} s\n`);
    const beatingApps = (JSON.parse(readFileSync(largeFile, 'utf8')) as SeedFile).apps;
    const smallApp = (JSON.parse(readFileSync(smallFile, 'utf8')) as SeedFile).apps[0]?.app_id as string;

    const smallRegistry = await startRegistryProcess({ ...MEASURED, ...small.options });
    const largeRegistry = await startRegistryProcess({ ...MEASURED, ...large.options });
    const lookupPath = (appId: string) => ({ path: `/v1/apps/${encodeURIComponent(appId)}/services`, headers: {} });
    // A spread of apps asked at size (Zipf over the apps with a beating instance), one app on the small registry.
    const zipf = cycle(
      Array.from(zipfSample(beatingApps.length, 200_000, { seed: 5 }), (i) => lookupPath(beatingApps[i]?.app_id as string)),
    );
    const compare = (registry: RegistryProcess) =>
      compareHttp(
        { url: registry.url, next: zipf },
        { url: `${smallRegistry.url}${lookupPath(smallApp).path}` },
        { rounds: ROUNDS, seconds: 1.5 },
      );
    const results: BenchResult[] = [];
    const row = (label: string, comparison: HttpComparison, notes: string) =>
      result(
        `Service DNS lookup, ${apps} apps / ${seeded.instances} bindings, Zipf over ${beatingApps.length} apps, answer cache off (${backend}, ${label})`,
        comparison.subject.perSecond,
        'req/s',
        'same lookup with 10 bindings, idle',
        comparison.baseline.perSecond,
        0.8,
        `${latencyOf(comparison.subject)} (baseline p99 ${comparison.baseline.p99Ms} ms); ${spreadOf(comparison.ratios)}; ${notes}`,
      );
    try {
      let host = machineWindow();
      const idle = await compare(largeRegistry);
      results.push(row('idle', idle, host()));
      const beats = await startBeats(largeRegistry.url, largeFile);
      let during: BeatReport;
      try {
        await new Promise((resolve) => setTimeout(resolve, (HEARTBEAT_INTERVAL_SECONDS + 2) * 1000));
        await beats.report();
        host = machineWindow();
        const loaded = await compare(largeRegistry);
        during = await beats.report();
        results.push(row(`${beatingApps.length} instances beating`, loaded, `${host()}; ${describeBeats(during)}`));
      } finally {
        await beats.stop();
      }
      results.push(
        result(
          `registry resident memory at that size (${backend}, after the beating run)`,
          residentMb(largeRegistry.pid),
          'MiB',
          'registry with 10 bindings',
          residentMb(smallRegistry.pid),
          null,
        ),
      );
      return results;
    } finally {
      await largeRegistry.stop();
      await smallRegistry.stop();
    }
  } finally {
    await small.remove();
    await large.remove();
  }
}

/**
 * Service DNS lookups per second on a registry holding `apps` apps and `apps × bindingsPerApp`
 * bindings (10 000 of them beating in the second run), against the same lookup on a registry
 * holding 10; plus that registry's memory. On SQLite and PostgreSQL.
 */
export async function benchGrowth(
  apps = Number(process.env.BENCH_GROWTH_APPS ?? 100_000),
  bindingsPerApp = 10,
  backends: Backend[] = BACKENDS,
): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const backend of backends) results.push(...(await onBackend(backend, apps, bindingsPerApp)));
  return results;
}
