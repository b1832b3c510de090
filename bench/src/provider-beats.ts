import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { developerWithApp, listedProvider, makeProvider, serviceCall, spawnScript, stop } from '@swarm/dev-env';
import { generateSigningKey, MAX_PROVIDER_BEATS, newNonce, nowSeconds, type SigningKey, signEnvelope } from '@swarm/protocol';
import { getJson, postJson } from '@swarm/runtime';
import SQLite from 'better-sqlite3';
import { type BenchResult, result } from './harness.js';

interface Bound {
  appId: string;
  serviceId: string;
  key: SigningKey;
}

/** Binds `count` instances of `provider` to `appId` straight in the registry's file (its own writes would take minutes). */
function bindMany(dataDir: string, appId: string, provider: string, count: number): Bound[] {
  const db = new SQLite(join(dataDir, 'registry.db'));
  db.pragma('busy_timeout = 5000');
  const now = nowSeconds();
  const insert = db.prepare(
    `INSERT INTO bindings (app_id, service_id, provider, service_type, endpoint_url, public_key, previous_public_key,
       previous_key_expires_at, service_tier, region, storage_limit_gb, bound_at, status, proof_hash, last_heartbeat_at,
       heartbeat_status, revoked_at)
     VALUES (?, ?, ?, 'cms-article', ?, ?, NULL, NULL, 'free', 'local', 1, ?, 'active', ?, ?, 'ok', NULL)`,
  );
  const bound: Bound[] = [];
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const serviceId = `cms-article-${i.toString(36).padStart(10, '0')}`;
      const key = generateSigningKey();
      const proof = createHash('sha256').update(`${appId}/${serviceId}`).digest('hex');
      insert.run(appId, serviceId, provider, `http://127.0.0.1:9/i/${serviceId}/api/v1`, key.publicKey, now, proof, now);
      bound.push({ appId, serviceId, key });
    }
  })();
  db.close();
  return bound;
}

/**
 * Instance-beats per second a registry (its own process, SQLite) takes as provider heartbeats
 * (one signature for MAX_PROVIDER_BEATS instances) vs as per-instance signed beats (SPEC §9.2),
 * in paired rounds with the median of each kept. Both run against the same instances.
 */
export async function benchProviderBeats(options: { instances?: number; rounds?: number; seconds?: number } = {}): Promise<BenchResult[]> {
  const instances = options.instances ?? 1000;
  const rounds = options.rounds ?? 3;
  const seconds = options.seconds ?? 2;
  const dataDir = mkdtempSync(join(tmpdir(), 'swarm-bench-beats-'));
  const script = fileURLToPath(new URL('./beats-registry-process.ts', import.meta.url));
  const part = await spawnScript<{ url: string; adminToken: string }>('registry', script, [dataDir], { stderr: 'inherit' });
  try {
    const registry = part.ready;
    const { appId } = await developerWithApp(registry);
    const provider = await listedProvider(registry, makeProvider('cms-article'));
    const bound = bindMany(dataDir, appId, provider.name, instances);

    // Enough signed requests for the longest round at the fastest rate seen here, and then some.
    const singles = (count: number) =>
      Array.from({ length: count }, (_, i) => {
        const instance = bound[i % bound.length] as Bound;
        return {
          path: `/v1/apps/${appId}/services/${instance.serviceId}/heartbeat`,
          body: serviceCall(appId, instance.serviceId, instance.key, { status: 'ok' }),
        };
      });
    const batches = (count: number) =>
      Array.from({ length: count }, (_, i) => {
        const from = (i * MAX_PROVIDER_BEATS) % bound.length;
        const beats = Array.from({ length: MAX_PROVIDER_BEATS }, (_, j) => {
          const instance = bound[(from + j) % bound.length] as Bound;
          return { app_id: appId, service_id: instance.serviceId, status: 'ok' as const };
        });
        return {
          path: `/v1/providers/${provider.name}/heartbeats`,
          body: signEnvelope(
            'provider_heartbeat',
            { provider: provider.name, timestamp: nowSeconds(), nonce: newNonce(), beats },
            provider.key.privateKey,
          ),
        };
      });
    // Closed-loop requests from a queue signed beforehand (the client's signing is not what is
    // measured), until the time is up or the queue is empty; no nonce is sent twice.
    const run = async (requests: Array<{ path: string; body: unknown }>) => {
      // Keep-alive connections left idle while signing may have been closed by the registry: replace them first.
      await Promise.all(
        Array.from({ length: 16 }, () => getJson(`${registry.url}/healthz`).catch(() => getJson(`${registry.url}/healthz`))),
      );
      let next = 0;
      let done = 0;
      const start = performance.now();
      const end = start + seconds * 1000;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let request = requests[next++]; request && performance.now() < end; request = requests[next++]) {
            const answer = await postJson(`${registry.url}${request.path}`, request.body).catch((error) => {
              throw new Error(`after ${done} beats: ${error.message}`, { cause: error });
            });
            if (answer.status !== 200) throw new Error(`beat answered ${answer.status}: ${JSON.stringify(answer.body)}`);
            done++;
          }
        }),
      );
      return done / ((performance.now() - start) / 1000);
    };

    const single: number[] = [];
    const batched: number[] = [];
    for (let round = 0; round < rounds; round++) {
      single.push(await run(singles(Math.ceil(seconds * 8_000))));
      batched.push((await run(batches(Math.ceil(seconds * 150)))) * MAX_PROVIDER_BEATS);
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    return [
      result(
        `instance beats as provider heartbeats (${MAX_PROVIDER_BEATS} a batch, ${instances} instances)`,
        median(batched),
        'beats/s',
        'per-instance signed beats',
        median(single),
        10,
        `median of ${rounds} paired rounds; requests signed beforehand`,
      ),
    ];
  } finally {
    await stop(part);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
