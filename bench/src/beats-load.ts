// The liveness load of a real swarm, in a process of its own so it shares no event loop with
// what it loads, in two steps:
//   beats-load.ts seed '<SeedOptions>'  binds instances through the registry's signed routes and
//                                       writes the apps, instances and instance keys to a file;
//   beats-load.ts beat '<BeatOptions>'  sends each instance's signed heartbeat (SPEC §9.2) at the
//                                       real interval, spread evenly; `report` on stdin prints
//                                       what happened since the last report, with its own CPU.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { appManifest, bindingRequest, developerProof, listedProvider, makeDeveloper, makeProvider, namespaceClaim } from '@swarm/dev-env';
import { appDnsZone, newNonce, nowSeconds, type SigningKey, signEnvelope } from '@swarm/protocol';
import { Pool } from 'undici';
import {
  type BeatOptions,
  type BeatReport,
  instanceKeyOf,
  newInstanceKey,
  type SeededApp,
  type SeedFile,
  type SeedOptions,
} from './beats.js';
import { LoadWindow, serveReports } from './load-window.js';

const [command, json] = process.argv.slice(2);
const options = JSON.parse(json ?? 'null');
if (command === 'seed') await seed(options as SeedOptions);
else if (command === 'beat') await beat(options as BeatOptions);
else throw new Error('usage: beats-load.ts seed|beat <options as JSON>');

/** Calls `fn` on every item with at most `concurrency` calls in flight. */
async function inParallel<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await fn(items[index] as T, index);
      }
    }),
  );
}

async function postJson(pool: Pool, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await answer.body.text();
  return { status: answer.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function expect(what: string, answer: { status: number; body: unknown }, status: number): void {
  if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
}

/**
 * Seeds through the same signed routes a swarm uses (namespace claims, app manifests, one
 * catalog offer, Proof-of-Duty bindings), many in flight at once: the registry does all its
 * checks for every one of them, as it would in production.
 */
async function seed(o: SeedOptions): Promise<void> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const pool = new Pool(o.registry, { connections: o.concurrency });
  const provider = await listedProvider({ url: o.registry, adminToken: o.adminToken }, makeProvider('cms-article'));
  const namespaces = Array.from({ length: Math.ceil(o.apps / o.appsPerNamespace) }, (_, i) =>
    makeDeveloper(`bench-${randomBytes(3).toString('hex')}-${i}`),
  );
  await inParallel(namespaces, o.concurrency, async (dev) => {
    expect('namespace', await postJson(pool, '/v1/namespaces', namespaceClaim(dev)), 201);
  });
  const apps: SeededApp[] = new Array(o.apps);
  await inParallel(
    Array.from({ length: o.apps }, (_, i) => i),
    o.concurrency,
    async (i) => {
      const dev = namespaces[Math.floor(i / o.appsPerNamespace)] as (typeof namespaces)[number];
      const answer = await postJson(pool, '/v1/apps', appManifest(dev, `app${i}`));
      expect('app', answer, 201);
      const appId = answer.body.app_id as string;
      apps[i] = { app_id: appId, zone: appDnsZone(appId), instances: [] };
    },
  );
  const bindings = apps.flatMap((app, i) => Array.from({ length: o.instancesPerApp }, () => ({ app, i })));
  await inParallel(bindings, o.concurrency, async ({ app, i }) => {
    const dev = namespaces[Math.floor(i / o.appsPerNamespace)] as (typeof namespaces)[number];
    const { key, jwk } = newInstanceKey();
    const request = bindingRequest(provider, developerProof(dev, app.app_id, provider.name), { instanceKey: key });
    expect('binding', await postJson(pool, '/v1/bindings', request.body), 201);
    app.instances.push({ service_id: request.serviceId, ...jwk });
  });
  await pool.close();
  writeFileSync(o.file, JSON.stringify({ apps } satisfies SeedFile));
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(
    `${JSON.stringify({
      apps: apps.length,
      instances: bindings.length,
      seconds: (performance.now() - started) / 1000,
      cpu_seconds: (cpu.user + cpu.system) / 1e6,
    })}\n`,
  );
}

interface Instance {
  path: string;
  appId: string;
  serviceId: string;
  key: SigningKey;
}

/**
 * How one beat leaves: every instance signs and sends its own heartbeat (SPEC §9.2), the load a
 * provider that does not batch puts on the registry. Batched provider heartbeats are measured
 * apart (`provider-beats`).
 */
type Sender = (instance: Instance) => Promise<{ status: number; code?: string }>;

function perInstanceSender(pool: Pool): Sender {
  return async (instance) => {
    const body = signEnvelope(
      'service_call',
      { app_id: instance.appId, service_id: instance.serviceId, timestamp: nowSeconds(), nonce: newNonce(), status: 'ok' },
      instance.key.privateKey,
    );
    const answer = await postJson(pool, instance.path, body);
    return answer.status === 200 ? { status: 200 } : { status: answer.status, code: String(answer.body.error ?? 'unknown') };
  };
}

async function beat(o: BeatOptions): Promise<void> {
  const file = JSON.parse(readFileSync(o.file, 'utf8')) as SeedFile;
  // Keys imported once, as an instance keeps its key object.
  const instances: Instance[] = file.apps.flatMap((app) =>
    app.instances.map((instance) => ({
      path: `/v1/apps/${encodeURIComponent(app.app_id)}/services/${instance.service_id}/heartbeat`,
      appId: app.app_id,
      serviceId: instance.service_id,
      key: instanceKeyOf(instance),
    })),
  );
  const pool = new Pool(o.registry, { connections: o.connections });
  const send = perInstanceSender(pool);
  const perSecond = instances.length / o.intervalSeconds;

  let window = new LoadWindow();
  let inFlight = 0;
  const fire = (instance: Instance) => {
    if (inFlight >= o.maxInFlight) {
      // The registry is this far behind: the beat is dropped, as an instance's timer would
      // fire again next interval rather than queue without end.
      window.skipped++;
      return;
    }
    inFlight++;
    window.sent++;
    const at = performance.now();
    const counted = window;
    send(instance).then(
      (outcome) => {
        inFlight--;
        counted.latency(performance.now() - at);
        if (outcome.status === 200) counted.accepted++;
        else counted.refuse(`${outcome.status} ${outcome.code}`);
      },
      () => {
        inFlight--;
        counted.failed++;
      },
    );
  };

  // Instance i beats at i/N of every interval: an even spread, as independent timers give.
  const start = performance.now();
  let issued = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * perSecond);
    for (; issued < due; issued++) fire(instances[issued % instances.length] as Instance);
  }, 5);

  const report = (): BeatReport => {
    const done = window;
    window = new LoadWindow();
    return done.report(instances.length, o.intervalSeconds, inFlight);
  };
  process.stdout.write(`${JSON.stringify({ instances: instances.length, per_second: perSecond })}\n`);
  serveReports(report, async () => {
    clearInterval(timer);
    await pool.destroy();
  });
}
