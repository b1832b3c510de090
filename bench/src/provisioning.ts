import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { provision } from '@swarm/client';
import { signedBytes } from '@swarm/protocol';
import { type BenchResult, measureAsync, measureSync, percentile, result } from './harness.js';
import { developerApp, type SwarmUnderTest } from './swarm.js';

/**
 * End-to-end provisionings per second (signed request → Master-key check → instance key →
 * Proof of Duty → registry checks → signed context → active) against the rate node:crypto
 * allows for the signature work one provisioning needs, measured in this process.
 */
export async function benchProvisioning(swarm: SwarmUnderTest, seconds = 6): Promise<BenchResult[]> {
  const app = await developerApp(swarm.urls.registry, 'bench-provision');
  const options = { registry: swarm.urls.registry };
  const run = await measureAsync(
    () => provision(options, { appId: app.appId, serviceType: 'cms-article', master: app.master, tier: 'free', region: 'local' }),
    { seconds, concurrency: 8 },
  );
  const limit = measureSync(cryptoWorkOfOneProvisioning, 2);
  return [
    result(
      'end-to-end provisionings (provision → bind → active)',
      run.perSecond,
      'provisionings/s',
      'node:crypto limit: 1 keygen + 3 signs + 4 verifies',
      limit,
      0.3,
      `p50 ${percentile(run.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(run.latenciesMs, 99).toFixed(1)} ms, ${run.iterations} provisionings, concurrency 8`,
    ),
  ];
}

const developer = generateKeyPairSync('ed25519');
const provider = generateKeyPairSync('ed25519');
const registry = generateKeyPairSync('ed25519');
const bytes = signedBytes('provision', { app_id: 'local.swarm.bench.app.abcdef', nonce: 'n0nce123', timestamp: 1 });

/** The signature work of one provisioning: developer sign, service verify, instance keygen, binding sign, two registry verifies, context sign, service verify. */
function cryptoWorkOfOneProvisioning(): void {
  const developerSignature = sign(null, bytes, developer.privateKey);
  verify(null, bytes, developer.publicKey, developerSignature);
  generateKeyPairSync('ed25519');
  const bindingSignature = sign(null, bytes, provider.privateKey);
  verify(null, bytes, provider.publicKey, bindingSignature);
  verify(null, bytes, developer.publicKey, developerSignature);
  const contextSignature = sign(null, bytes, registry.privateKey);
  verify(null, bytes, registry.publicKey, contextSignature);
}
