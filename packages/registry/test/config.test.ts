import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryOptionsFromEnv } from '../src/index.js';

describe('registryOptionsFromEnv', () => {
  it('reads SWARM_* variables and leaves the rest to defaults', () => {
    assert.deepEqual(registryOptionsFromEnv({}), {});
    assert.deepEqual(
      registryOptionsFromEnv({
        SWARM_REGISTRY_PORT: '7400',
        SWARM_DNS_PORT: '7453',
        SWARM_DATABASE_URL: 'postgres://db/swarm',
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
