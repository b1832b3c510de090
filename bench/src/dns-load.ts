import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stop, tempDir } from '@swarm/dev-env';
import { BEATING_INSTANCES, type BeatReport, describeBeats, HEARTBEAT_INTERVAL_SECONDS, type SeedFile, startBeats } from './beats.js';
import { seedDatabase } from './db-seed.js';
import { srvLoad, startStaticDns } from './dns.js';
import { type BenchResult, nextSecond, pairedMedian, result } from './harness.js';
import { compareHttp, httpLoad, type LoadRequest, latencyOf, spreadOf } from './http-load.js';
import { machineWindow } from './machine-load.js';
import { freshDatabase } from './postgres.js';
import { type RegistryProcess, startRegistryProcess } from './registry-part.js';
import { cycle, shuffled, zipfSample } from './zipf.js';

const APPS = Number(process.env.BENCH_APPS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = 1.5;
/** An hour: with it the seeded instances stay healthy without a beat, the registry carries no liveness traffic. */
const IDLE_INTERVAL_SECONDS = 3600;
/**
 * Redis for the PostgreSQL registry (nonces and last beats shared as replicas share them);
 * `BENCH_REDIS_URL=off` runs it without (then every beat is written to its row).
 */
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Backend = 'SQLite' | 'PostgreSQL';

/** Both by default; `BENCH_BACKENDS=SQLite` (or `PostgreSQL`) for one. */
export const BACKENDS: Backend[] = (process.env.BENCH_BACKENDS ?? 'SQLite,PostgreSQL')
  .split(',')
  .map((name) => name.trim())
  .filter((name): name is Backend => name === 'SQLite' || name === 'PostgreSQL');

interface Questions {
  paths: LoadRequest[];
  names: string[];
  /** Zipf-distributed indexes into paths and names. */
  zipf: Uint32Array;
}

function questionsOf(file: SeedFile): Questions {
  const apps = file.apps;
  return {
    paths: apps.map((app) => ({ path: `/v1/apps/${encodeURIComponent(app.app_id)}/services`, headers: {} })),
    names: apps.map((app) => `_cms-article._tcp.${app.zone.slice(0, -1)}`),
    zipf: zipfSample(apps.length, 200_000, { seed: 7 }),
  };
}

/**
 * Service DNS over HTTP and over UDP on a registry holding `APPS` apps, asked by a Zipf
 * distribution over them (warm: every app asked before) and each app at most once (cold: the
 * registry keeps answers across seconds until the app changes, so a cold question is one about
 * an app it was never asked about), each against its baseline in paired rounds.
 */
async function measure(registry: RegistryProcess, staticPort: number, q: Questions, label: string): Promise<BenchResult[]> {
  const n = q.paths.length;
  const zipfPaths = cycle(Array.from(q.zipf, (i) => q.paths[i] as LoadRequest));
  const zipfNames = cycle(Array.from(q.zipf, (i) => q.names[i] as string));
  const order = shuffled(n, 11);
  // Each cold round asks its own slice of the apps: no subject round repeats another's question.
  const slice = Math.floor(n / ROUNDS);
  const coldPaths = cycle(Array.from(order, (i) => q.paths[i] as LoadRequest));
  const coldNames = cycle(Array.from(order, (i) => q.names[i] as string));
  const staticNames = cycle(Array.from(order, (i) => q.names[i] as string));
  const healthz = { url: `${registry.url}/healthz` };
  const dnsPort = registry.dnsPort as number;
  const results: BenchResult[] = [];
  const host = machineWindow();

  // Cold first: at start the registry has answered nothing. Each subject round asks the next
  // slice of the apps (stopped after SECONDS), so no question finds an answer kept from before;
  // the baseline sends as many requests.
  const coldHttp = await compareHttp(
    { url: registry.url, next: coldPaths, amount: slice },
    { ...healthz, amount: slice },
    { rounds: ROUNDS, seconds: SECONDS, warmUp: false, beforeSubject: nextSecond, strict: false },
  );
  results.push(
    result(
      `Service DNS over HTTP, cold: each of ${n} apps at most once (${label})`,
      coldHttp.subject.perSecond,
      'req/s',
      'GET /healthz, same registry, same load',
      coldHttp.baseline.perSecond,
      0.7,
      `${latencyOf(coldHttp.subject)}; ${spreadOf(coldHttp.ratios)}`,
    ),
  );
  // Warm: every app asked once, then Zipf-distributed questions shared by all connections.
  await httpLoad(registry.url, { next: coldPaths, amount: n, seconds: 8 * SECONDS });
  const warmHttp = await compareHttp({ url: registry.url, next: zipfPaths }, healthz, { rounds: ROUNDS, seconds: SECONDS, strict: false });
  results.push(
    result(
      `Service DNS over HTTP, warm: Zipf over ${n} apps (${label})`,
      warmHttp.subject.perSecond,
      'req/s',
      'GET /healthz, same registry, same load',
      warmHttp.baseline.perSecond,
      0.7,
      `${latencyOf(warmHttp.subject)}; ${spreadOf(warmHttp.ratios)}`,
    ),
  );
  const coldDns = await pairedMedian(
    () => srvLoad(dnsPort, coldNames, { amount: slice, seconds: SECONDS }),
    () => srvLoad(staticPort, staticNames, { amount: slice, seconds: SECONDS }),
    (run) => run.perSecond,
    { rounds: ROUNDS, beforeSubject: nextSecond },
  );
  results.push(
    result(
      `Service DNS SRV over UDP, cold: each of ${n} apps at most once (${label})`,
      coldDns.median.subject.perSecond,
      'queries/s',
      'static SRV answer, same DNS library',
      coldDns.median.baseline.perSecond,
      0.7,
      `${emptyShare(coldDns.median.subject)}; ${spreadOf(coldDns.ratios)}`,
    ),
  );
  // Warm: every app asked once (the cold rounds stopped after SECONDS may have left some), then Zipf.
  await srvLoad(dnsPort, coldNames, { amount: n, seconds: 8 * SECONDS });
  await srvLoad(dnsPort, zipfNames, { seconds: SECONDS });
  await srvLoad(staticPort, zipfNames, { seconds: SECONDS });
  const warmDns = await pairedMedian(
    () => srvLoad(dnsPort, zipfNames, { seconds: SECONDS }),
    () => srvLoad(staticPort, zipfNames, { seconds: SECONDS }),
    (run) => run.perSecond,
    { rounds: ROUNDS },
  );
  results.push(
    result(
      `Service DNS SRV over UDP, warm: Zipf over ${n} apps (${label})`,
      warmDns.median.subject.perSecond,
      'queries/s',
      'static SRV answer, same DNS library',
      warmDns.median.baseline.perSecond,
      0.7,
      `${emptyShare(warmDns.median.subject)}; ${spreadOf(warmDns.ratios)}`,
    ),
  );
  const context = host();
  return results.map((r) => ({ ...r, notes: `${r.notes}; ${context}` }));
}

function emptyShare(run: { replies: number; answered: number }): string {
  const empty = run.replies - run.answered;
  return empty === 0 ? 'every reply with its SRV' : `${empty} of ${run.replies} replies without an SRV (instance unhealthy)`;
}

/** The registry's storage for one backend: a temp SQLite folder or a fresh PostgreSQL database. */
async function storageFor(backend: Backend) {
  if (backend === 'SQLite') {
    const dir = tempDir('dns-load');
    return {
      options: { dataDir: dir.path },
      database: { file: join(dir.path, 'registry.db') },
      dir: dir.path,
      remove: async () => dir.remove(),
    };
  }
  const db = await freshDatabase();
  const dir = tempDir('dns-load-pg');
  return {
    options: { databaseUrl: db.url, ...(REDIS_URL === 'off' ? {} : { redisUrl: REDIS_URL }) },
    database: { url: db.url },
    dir: dir.path,
    remove: async () => {
      dir.remove();
      await db.drop();
    },
  };
}

async function onBackend(backend: Backend, staticPort: number): Promise<BenchResult[]> {
  const storage = await storageFor(backend);
  // Service DNS's per-prefix rate limit would measure the limit (one client, one address).
  const common = { ...storage.options, dnsPort: 0, dnsLimits: { responsesPerSecond: 0 } };
  const results: BenchResult[] = [];
  try {
    // A first start makes the tables; the apps and instances are then written straight in.
    await (await startRegistryProcess(common)).stop();
    const file = join(storage.dir, 'instances.json');
    const seeded = await seedDatabase({ database: storage.database, apps: APPS, instancesPerApp: 1, beating: BEATING_INSTANCES, file });
    process.stderr.write(`  ${backend}: seeded ${seeded.apps} apps / ${seeded.instances} instances in ${seeded.seconds.toFixed(1)} s\n`);
    const questions = questionsOf(JSON.parse(readFileSync(file, 'utf8')) as SeedFile);

    const idle = await startRegistryProcess({ ...common, heartbeatIntervalSeconds: IDLE_INTERVAL_SECONDS });
    try {
      process.stderr.write(`  ${backend}: idle\n`);
      results.push(...(await measure(idle, staticPort, questions, `${backend}, idle`)));
    } finally {
      await idle.stop();
    }

    const loaded = await startRegistryProcess(common);
    const beats = await startBeats(loaded.url, file);
    try {
      // One interval and a little: every instance has beaten once on this registry.
      await new Promise((resolve) => setTimeout(resolve, (HEARTBEAT_INTERVAL_SECONDS + 2) * 1000));
      process.stderr.write(`  ${backend}: under load: ${describeBeats(await beats.report())}\n`);
      const figures = await measure(loaded, staticPort, questions, `${backend}, ${seeded.beating} instances beating`);
      const during: BeatReport = await beats.report();
      process.stderr.write(`  ${backend}: during the measurement: ${describeBeats(during)}\n`);
      const beatsNote = describeBeats(during);
      results.push(...figures.map((r) => ({ ...r, notes: `${r.notes}; ${beatsNote}` })));
    } finally {
      await beats.stop();
      await loaded.stop();
    }
  } finally {
    await storage.remove();
  }
  return results;
}

/** Service DNS (HTTP and UDP), warm and cold, idle and under the liveness of 10 000 instances, on SQLite and PostgreSQL. */
export async function benchDnsLoad(backends: Backend[] = BACKENDS): Promise<BenchResult[]> {
  const staticDns = await startStaticDns();
  try {
    const results: BenchResult[] = [];
    for (const backend of backends) results.push(...(await onBackend(backend, staticDns.ready.port)));
    return results;
  } finally {
    await stop(staticDns);
  }
}
