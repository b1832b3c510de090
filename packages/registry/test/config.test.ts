import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_INSTANCE_QUOTAS, parseInstanceQuotas, registryOptionsFromEnv } from '../src/index.js';

describe('registryOptionsFromEnv', () => {
  it('reads SWARM_* variables and leaves the rest to defaults', () => {
    assert.deepEqual(registryOptionsFromEnv({}), {});
    assert.deepEqual(
      registryOptionsFromEnv({
        SWARM_REGISTRY_PORT: '7400',
        SWARM_DNS_PORT: '7453',
        SWARM_DATABASE_URL: 'postgres://db/swarm',
        SWARM_REDIS_URL: 'redis://cache:6379',
        SWARM_DATA_DIR: '/var/swarm',
        SWARM_AUTHORITY: 'omiappreg.org',
        SWARM_ADMIN_TOKEN: 'admin',
        SWARM_ADMISSION_TOKEN: 'admit',
        SWARM_REGISTRY_KEY_FILE: '/etc/swarm/key.pem',
        SWARM_PUBLIC_URL: 'https://registry.example',
      }),
      {
        port: 7400,
        dnsPort: 7453,
        databaseUrl: 'postgres://db/swarm',
        redisUrl: 'redis://cache:6379',
        dataDir: '/var/swarm',
        authority: 'omiappreg.org',
        adminToken: 'admin',
        admissionToken: 'admit',
        registryKeyFile: '/etc/swarm/key.pem',
        publicUrl: 'https://registry.example',
      },
    );
    assert.equal(registryOptionsFromEnv({ SWARM_DNS_PORT: 'off' }).dnsPort, false);
    assert.throws(() => registryOptionsFromEnv({ SWARM_REGISTRY_PORT: 'http' }), /SWARM_REGISTRY_PORT/);
    assert.throws(() => registryOptionsFromEnv({ SWARM_DNS_PORT: '70000' }), /SWARM_DNS_PORT/);
  });
});

describe('parseInstanceQuotas', () => {
  it('keeps the defaults for tiers not named and replaces the named ones', () => {
    const quotas = parseInstanceQuotas('free=5/50, pro_cluster=7/70');
    assert.deepEqual(quotas.free, { perApp: 5, perNamespace: 50 });
    assert.deepEqual(quotas.pro_cluster, { perApp: 7, perNamespace: 70 });
    assert.deepEqual(quotas['*'], DEFAULT_INSTANCE_QUOTAS['*']);
    assert.deepEqual(parseInstanceQuotas(''), { ...DEFAULT_INSTANCE_QUOTAS });
    assert.deepEqual(parseInstanceQuotas('*=2/3')['*'], { perApp: 2, perNamespace: 3 });
  });

  it('refuses every malformed part with a message naming it', () => {
    for (const bad of ['free', 'free=5', 'free=5/', 'free=-1/2', 'free=1/2/3', 'fr ee=1/2', 'free=a/b', '=1/2', 'free=1.5/2']) {
      assert.throws(
        () => parseInstanceQuotas(bad),
        (error: Error) => error.message.includes('is not <tier>=<per app>/<per namespace>'),
        bad,
      );
    }
  });

  it('parses any well-formed list to exactly its numbers (property)', () => {
    const tier = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
    const count = fc.nat({ max: 1_000_000 });
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(tier, count, count), { selector: ([name]) => name, maxLength: 5 }), (entries) => {
        const quotas = parseInstanceQuotas(entries.map(([name, app, ns]) => `${name}=${app}/${ns}`).join(','));
        for (const [name, app, ns] of entries) assert.deepEqual(quotas[name], { perApp: app, perNamespace: ns });
      }),
    );
  });

  it('never throws anything but an Error on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseInstanceQuotas(text);
        } catch (error) {
          assert.ok(error instanceof Error);
        }
      }),
    );
  });
});
