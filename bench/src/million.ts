import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listedProvider, makeProvider, type Provider, spawnScript, stop, tempDir } from '@swarm/dev-env';
import { appDnsZone, MAX_PROVIDER_BEATS } from '@swarm/protocol';
import SQLite from 'better-sqlite3';
import { type BeatReport, describeBeats, HEARTBEAT_INTERVAL_SECONDS, type InstanceKeyJwk } from './beats.js';
import { seedDatabase } from './db-seed.js';
import { srvLoad } from './dns.js';
import { type BenchResult, pairedMedian, result } from './harness.js';
import { compareHttp, latencyOf, spreadOf } from './http-load.js';
import { machineWindow } from './machine-load.js';
import type { ProviderBeatsOptions } from './provider-beats-load.js';
import { type RegistryProcess, residentMb, startRegistryProcess } from './registry-part.js';
import { cycle, zipfSample } from './zipf.js';

const APPS = Number(process.env.BENCH_MILLION_APPS ?? 100_000);
const PER_APP = 10;
const PROVIDERS = Number(process.env.BENCH_MILLION_PROVIDERS ?? 200);
/** Six intervals: a SQLite registry writes each beating instance's row once per six (persistBeatsEveryIntervals). */
const CPU_WINDOW_SECONDS = Number(process.env.BENCH_MILLION_WINDOW ?? 6 * HEARTBEAT_INTERVAL_SECONDS);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = 1.5;
const LOAD_SCRIPT = fileURLToPath(new URL('./provider-beats-load.ts', import.meta.url));

type ProviderReport = BeatReport & { requests: number; asked: number };

/** CPU seconds a process has used (user + system), from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A registry's CPU share of one core over a stretch of a run. */
function cpuWindow(pid: number): () => number {
  const cpu = cpuSeconds(pid);
  const at = performance.now();
  return () => (cpuSeconds(pid) - cpu) / ((performance.now() - at) / 1000);
}

function keyOf(provider: Provider): { name: string } & InstanceKeyJwk {
  const { d, x } = provider.key.privateKey.export({ format: 'jwk' }) as { d: string; x: string };
  return { name: provider.name, d, x };
}

/** A registry on SQLite with `apps × PER_APP` bound instances spread over `providers` providers (their keys kept). */
async function seededRegistry(label: string, apps: number, providers: number) {
  const dir = tempDir(`million-${label}`);
  try {
    const database = join(dir.path, 'registry.db');
    // Service DNS's per-prefix rate limit would measure the limit (one client, one address).
    const options = { dataDir: dir.path, dnsPort: 0, dnsLimits: { responsesPerSecond: 0 } };
    // A first start makes the tables and lists the providers through the catalog route; the
    // apps and bindings are then written straight into the file and the registry started again.
    const first = await startRegistryProcess(options);
    const listed: Provider[] = [];
    try {
      for (let i = 0; i < providers; i++)
        listed.push(await listedProvider({ url: first.url, adminToken: first.adminToken }, makeProvider()));
    } finally {
      await first.stop();
    }
    // An app's instances all run at one provider; consecutive apps at consecutive providers.
    const seeded = await seedDatabase({
      database: { file: database },
      apps,
      instancesPerApp: PER_APP,
      appsPerNamespace: 100,
      beating: 0,
      file: join(dir.path, 'unused.json'),
      providerOf: (app) => (listed[app % listed.length] as Provider).name,
    });
    process.stderr.write(`  ${label}: seeded ${seeded.apps} apps / ${seeded.instances} bindings in ${seeded.seconds.toFixed(1)} s\n`);
    const registry = await startRegistryProcess(options);
    const file = new SQLite(database, { readonly: true });
    const appIds = (file.prepare('SELECT app_id FROM apps ORDER BY rowid').pluck().all() as unknown[]).map(String);
    file.close();
    return { dir, database, registry, providers: listed, appIds, instances: seeded.instances };
  } catch (error) {
    dir.remove();
    throw error;
  }
}

async function startProviderBeats(registry: RegistryProcess, database: string, providers: Provider[]) {
  const options: ProviderBeatsOptions = {
    registry: registry.url,
    database,
    providers: providers.map(keyOf),
    intervalSeconds: HEARTBEAT_INTERVAL_SECONDS,
    connections: 16,
    maxInFlight: 64,
  };
  const part = await spawnScript<{ instances: number; requests: number }>('provider beats', LOAD_SCRIPT, [JSON.stringify(options)], {
    stderr: 'inherit',
    stdin: true,
    readyTimeoutMs: 120_000,
  });
  return {
    ready: part.ready,
    async report(): Promise<ProviderReport> {
      part.child.stdin?.write('report\n');
      return JSON.parse(await part.nextLine()) as ProviderReport;
    },
    stop: () => stop(part),
  };
}

function describeProviderBeats(report: ProviderReport): string {
  return `${describeBeats(report)}; ${report.requests} signed requests of up to ${MAX_PROVIDER_BEATS} beats`;
}

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * A registry (own process, SQLite) holding APPS × 10 bound instances (1 000 000 by default)
 * spread over PROVIDERS providers, every instance beating every 10 s through its provider's
 * batched heartbeats: the registry's CPU share of one core and resident memory while it carries
 * that, the beats it accepted of those asked, and Service DNS (HTTP and UDP) at that size against
 * the same registry setup holding 10 instances, under the same kind of load.
 */
export async function benchMillion(): Promise<BenchResult[]> {
  const registries: Array<Awaited<ReturnType<typeof seededRegistry>>> = [];
  const beats: Array<Awaited<ReturnType<typeof startProviderBeats>>> = [];
  try {
    const large = await seededRegistry('large', APPS, PROVIDERS);
    registries.push(large);
    const small = await seededRegistry('small', 1, 1);
    registries.push(small);
    const idleMb = residentMb(large.registry.pid);
    const smallIdleMb = residentMb(small.registry.pid);
    beats.push(await startProviderBeats(small.registry, small.database, small.providers));
    const load = await startProviderBeats(large.registry, large.database, large.providers);
    beats.push(load);
    process.stderr.write(`  large: ${load.ready.instances} instances in ${load.ready.requests} requests per interval\n`);
    // One interval and a little: every instance has beaten once and sits in the registry's memory.
    await sleep(HEARTBEAT_INTERVAL_SECONDS + 2);
    process.stderr.write(`  first interval: ${describeProviderBeats(await load.report())}\n`);

    const host = machineWindow();
    const cpu = cpuWindow(large.registry.pid);
    await sleep(CPU_WINDOW_SECONDS);
    const share = cpu();
    const carried = await load.report();
    const hostDuring = host();
    const beatingMb = residentMb(large.registry.pid);
    process.stderr.write(`  carried: cpu ${share.toFixed(2)} core, ${beatingMb.toFixed(0)} MiB; ${describeProviderBeats(carried)}\n`);

    // Service DNS while the beats go on: Zipf over every app at size, the one app of the small registry.
    const zipf = zipfSample(large.appIds.length, 200_000, { seed: 13 });
    const paths = cycle(
      Array.from(zipf, (i) => ({ path: `/v1/apps/${encodeURIComponent(large.appIds[i] as string)}/services`, headers: {} })),
    );
    const names = cycle(Array.from(zipf, (i) => `_cms-article._tcp.${appDnsZone(large.appIds[i] as string).slice(0, -1)}`));
    const smallApp = small.appIds[0] as string;
    const lookupHost = machineWindow();
    const http = await compareHttp(
      { url: large.registry.url, next: paths },
      { url: `${small.registry.url}/v1/apps/${encodeURIComponent(smallApp)}/services` },
      { rounds: ROUNDS, seconds: SECONDS, strict: false },
    );
    const smallName = `_cms-article._tcp.${appDnsZone(smallApp).slice(0, -1)}`;
    await srvLoad(large.registry.dnsPort as number, names, { seconds: SECONDS, edns: true });
    const udp = await pairedMedian(
      () => srvLoad(large.registry.dnsPort as number, names, { seconds: SECONDS, edns: true }),
      () => srvLoad(small.registry.dnsPort as number, smallName, { seconds: SECONDS, edns: true }),
      (run) => run.perSecond,
      { rounds: ROUNDS },
    );
    const during = await load.report();
    const lookupNotes = `${lookupHost()}; ${describeProviderBeats(during)}`;
    const size = `${large.instances} instances / ${large.appIds.length} apps / ${PROVIDERS} providers beating every ${HEARTBEAT_INTERVAL_SECONDS} s`;
    const empty = udp.median.subject.replies - udp.median.subject.answered;
    return [
      result(
        `registry CPU carrying ${size} (SQLite, batched heartbeats)`,
        share,
        'cores',
        'one core',
        1,
        null,
        `over ${CPU_WINDOW_SECONDS} s; ${hostDuring}`,
      ),
      result(
        `instance beats accepted of those asked (${size})`,
        carried.accepted_per_second,
        'beats/s',
        'beats asked',
        carried.asked / carried.seconds,
        null,
        describeProviderBeats(carried),
      ),
      result(
        `registry resident memory carrying ${size}`,
        beatingMb,
        'MiB',
        'registry with 10 instances beating',
        residentMb(small.registry.pid),
        null,
        `before the first beat ${Math.round(idleMb)} MiB (last beats in memory: ${Math.round(beatingMb - idleMb)} MiB); small registry before its first beat ${Math.round(smallIdleMb)} MiB`,
      ),
      result(
        `Service DNS over HTTP, Zipf over ${large.appIds.length} apps, ${large.instances} instances beating`,
        http.subject.perSecond,
        'req/s',
        'same lookup, registry with 10 instances beating',
        http.baseline.perSecond,
        0.8,
        `${latencyOf(http.subject)} (baseline p99 ${http.baseline.p99Ms} ms); ${spreadOf(http.ratios)}; ${lookupNotes}`,
      ),
      result(
        `Service DNS SRV over UDP, Zipf over ${large.appIds.length} apps, ${large.instances} instances beating`,
        udp.median.subject.perSecond,
        'queries/s',
        'same question, registry with 10 instances beating',
        udp.median.baseline.perSecond,
        0.8,
        `${empty === 0 ? 'every reply with its SRV' : `${empty} of ${udp.median.subject.replies} replies without an SRV`}; ${spreadOf(udp.ratios)}; ${lookupNotes}`,
      ),
    ];
  } finally {
    for (const b of beats) await b.stop();
    for (const r of registries) {
      await r.registry.stop();
      r.dir.remove();
    }
  }
}
