import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, freePort, stop, tempDir } from '@swarm/dev-env';
import dnsPacket from 'dns-packet';
import type { SeedFile } from './beats.js';
import { seedDatabase } from './db-seed.js';
import { type BenchResult, pairedMedian, result } from './harness.js';
import { machineWindow } from './machine-load.js';
import { type RegistryProcess, startRegistryProcess } from './registry-part.js';

/**
 * The registry's Service DNS against nsd serving the same zone: SRV queries per second with dnsperf
 * as the load, unsigned (registry `--no-dnssec`) and signed (registry signing online, answering DO
 * queries; nsd serving the signed copy it transferred). nsd is a secondary of the registry under
 * test (request-xfr), so both answer from the very same records. Paired rounds, median.
 */

const APPS = Number(process.env.BENCH_DNS_ZONE_APPS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_DNS_ZONE_SECONDS ?? 3);
/** An hour: the seeded instances stay healthy without a beat. */
const IDLE_INTERVAL_SECONDS = 3600;
const run = promisify(execFile);

function missing(program: string, args: string[]): boolean {
  return spawnSync(program, args, { stdio: 'ignore' }).error !== undefined;
}

interface Perf {
  perSecond: number;
  lost: number;
}

/** One dnsperf run: one thread, one client socket, up to 100 queries outstanding (dnsperf's default). */
async function dnsperf(port: number, file: string, dnssec: boolean): Promise<Perf> {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(SECONDS), '-T', '1', '-c', '1', '-e'];
  const { stdout } = await run('dnsperf', dnssec ? [...args, '-D'] : args, { maxBuffer: 16 * 1024 * 1024 });
  const perSecond = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { perSecond, lost };
}

/** nsd, one server process, rate limiting off, as a secondary of the registry's zone. */
async function startNsd(dir: string, registryDnsPort: number, probeName: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'nsd.conf');
  writeFileSync(
    config,
    [
      'server:',
      `  ip-address: 127.0.0.1@${port}`,
      '  username: ""',
      '  chroot: ""',
      `  zonesdir: "${dir}"`,
      '  database: ""',
      `  pidfile: "${dir}/nsd.pid"`,
      `  xfrdfile: "${dir}/xfrd.state"`,
      `  xfrdir: "${dir}"`,
      `  zonelistfile: "${dir}/zone.list"`,
      '  server-count: 1',
      '  do-ip6: no',
      '  verbosity: 0',
      '  rrl-ratelimit: 0',
      'remote-control:',
      '  control-enable: no',
      'zone:',
      '  name: "swarm.local"',
      '  zonefile: "swarm.local.zone"',
      `  request-xfr: AXFR 127.0.0.1@${registryDnsPort} NOKEY`,
      '',
    ].join('\n'),
  );
  const child = spawn('nsd', ['-d', '-c', config], { stdio: 'ignore' });
  await eventually('nsd to load the zone', () => answersSrv(port, probeName), 60_000);
  return { port, child };
}

/** Whether the server answers the SRV question with an SRV record. */
async function answersSrv(port: number, name: string): Promise<true | undefined> {
  const { createSocket } = await import('node:dgram');
  const socket = createSocket('udp4');
  try {
    const reply = new Promise<Buffer>((resolve, reject) => {
      socket.once('message', resolve);
      setTimeout(() => reject(new Error('no reply')), 1000).unref();
    });
    socket.send(dnsPacket.encode({ type: 'query', id: 1, questions: [{ name, type: 'SRV' }] }), port, '127.0.0.1');
    return (dnsPacket.decode(await reply).answers ?? []).some((record) => record.type === 'SRV') ? true : undefined;
  } finally {
    socket.close();
  }
}

async function compare(registry: RegistryProcess, nsdPort: number, file: string, dnssec: boolean, label: string, target: number) {
  const registryPort = registry.dnsPort as number;
  // A warm-up pass each: the registry's kept answers and signatures, nsd's caches.
  await dnsperf(registryPort, file, dnssec);
  await dnsperf(nsdPort, file, dnssec);
  const paired = await pairedMedian(
    () => dnsperf(registryPort, file, dnssec),
    () => dnsperf(nsdPort, file, dnssec),
    (perf) => perf.perSecond,
    { rounds: ROUNDS },
  );
  const { subject, baseline } = paired.median;
  return result(
    `Service DNS SRV vs nsd, ${label}: ${APPS} apps, dnsperf`,
    subject.perSecond,
    'queries/s',
    `nsd (1 server process, RRL off) serving the registry's transferred zone`,
    baseline.perSecond,
    target,
    `ratios ${paired.ratios.map((ratio) => ratio.toFixed(2)).join(', ')}; lost ${subject.lost} / nsd ${baseline.lost}`,
  );
}

export async function benchDnsZone(): Promise<BenchResult[]> {
  if (missing('dnsperf', ['-h']) || missing('nsd', ['-v'])) {
    process.stderr.write('  dns-zone: skipped, dnsperf or nsd is not on PATH (Debian: apt-get install dnsperf nsd)\n');
    return [];
  }
  const dir = tempDir('dns-zone');
  const results: BenchResult[] = [];
  const host = machineWindow();
  try {
    const database = join(dir.path, 'registry.db');
    const common = {
      databaseFile: database,
      dnsPort: 0,
      // One client address: the per-prefix rate limit would measure the limit.
      dnsLimits: { responsesPerSecond: 0 },
      dnsAddressTargets: 'zone' as const,
      dnsAllowTransfer: ['127.0.0.1'],
      heartbeatIntervalSeconds: IDLE_INTERVAL_SECONDS,
    };
    await (await startRegistryProcess(common)).stop();
    const seedFile = join(dir.path, 'instances.json');
    await seedDatabase({ database: { file: database }, apps: APPS, instancesPerApp: 1, beating: APPS, file: seedFile });
    const names = (JSON.parse(readFileSync(seedFile, 'utf8')) as SeedFile).apps.map((app) => `_cms-article._tcp.${app.zone.slice(0, -1)}`);
    const queries = join(dir.path, 'queries.txt');
    writeFileSync(queries, `${names.map((name) => `${name} SRV`).join('\n')}\n`);

    for (const [signed, label, target] of [
      [false, 'unsigned', 0.7],
      [true, 'signed (DO set)', 0.5],
    ] as const) {
      const registry = await startRegistryProcess({ ...common, dnssec: signed });
      let nsd: { child: ChildProcess } | null = null;
      try {
        const started = await startNsd(
          join(dir.path, `nsd-${signed ? 'signed' : 'unsigned'}`),
          registry.dnsPort as number,
          names[0] as string,
        );
        nsd = started;
        process.stderr.write(`  dns-zone: ${label}\n`);
        results.push(await compare(registry, started.port, queries, signed, label, target));
      } finally {
        if (nsd) await stop(nsd);
        await registry.stop();
      }
    }
  } finally {
    dir.remove();
  }
  const context = host();
  return results.map((r) => ({ ...r, notes: `${r.notes}; ${context}` }));
}
