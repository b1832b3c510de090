import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceOptionsFromEnv } from '../src/index.js';

describe('serviceOptionsFromEnv', () => {
  it('reads SWARM_* variables and leaves out what is unset', () => {
    const registry = { authority: 'swarm.local', baseUrl: 'http://127.0.0.1:7400', publicKey: `ed25519:${'A'.repeat(43)}` };
    const options = serviceOptionsFromEnv({
      SWARM_SERVICE_PORT: '7410',
      SWARM_DATA_DIR: '/var/lib/swarm',
      SWARM_REDIS_URL: 'redis://127.0.0.1:6379',
      SWARM_TRUSTED_REGISTRIES: JSON.stringify([registry]),
      SWARM_HEARTBEAT_SECONDS: '5',
      SWARM_HOST: '',
    });
    assert.deepEqual(options, {
      port: 7410,
      dataDir: '/var/lib/swarm',
      redisUrl: 'redis://127.0.0.1:6379',
      trustedRegistries: [registry],
      heartbeatIntervalSeconds: 5,
    });
    assert.deepEqual(serviceOptionsFromEnv({}), {});
  });

  it('refuses values that make no sense', () => {
    assert.throws(() => serviceOptionsFromEnv({ SWARM_SERVICE_PORT: '70000' }), /SWARM_SERVICE_PORT/);
    assert.throws(() => serviceOptionsFromEnv({ SWARM_HEARTBEAT_SECONDS: '0' }), /SWARM_HEARTBEAT_SECONDS/);
    assert.throws(() => serviceOptionsFromEnv({ SWARM_TRUSTED_REGISTRIES: '{' }), /SWARM_TRUSTED_REGISTRIES/);
    assert.throws(() => serviceOptionsFromEnv({ SWARM_TRUSTED_REGISTRIES: '[{"authority":1}]' }), /SWARM_TRUSTED_REGISTRIES/);
  });
});
