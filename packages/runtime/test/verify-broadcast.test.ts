import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSigningKey, MemoryReplayStore, newNonce, nowSeconds, SwarmError, signEnvelope, TrustedRegistries } from '@swarm/protocol';
import { verifyBroadcast } from '../src/index.js';

describe('verifyBroadcast for a receiver of one app', () => {
  const registryKey = generateSigningKey();
  const trusted = new TrustedRegistries([{ authority: 'swarm.local', baseUrl: 'http://127.0.0.1:9', publicKey: registryKey.publicKey }]);
  const broadcast = (appId: string) =>
    signEnvelope(
      'broadcast',
      { origin: 'swarm.local', event: 'BACKBONE_UPDATE', app_id: appId, config_epoch: 2, timestamp: nowSeconds(), nonce: newNonce() },
      registryKey.privateKey,
    );

  it("refuses another app's broadcast before its nonce is spent, so it still counts where it belongs", async () => {
    const replay = new MemoryReplayStore();
    const body = broadcast('local.swarm.alice.blog.abcdef');
    await assert.rejects(
      verifyBroadcast(trusted, body, replay, { appId: 'local.swarm.bob.shop.abcdef' }),
      (error: unknown) => error instanceof SwarmError && error.code === 'forbidden',
    );
    assert.equal(replay.size, 0, 'no nonce spent');
    const taken = await verifyBroadcast(trusted, body, replay, { appId: 'local.swarm.alice.blog.abcdef' });
    assert.equal(taken?.app_id, 'local.swarm.alice.blog.abcdef');
    assert.equal(await verifyBroadcast(trusted, body, replay, { appId: 'local.swarm.alice.blog.abcdef' }), null, 'a repeat');
  });
});
