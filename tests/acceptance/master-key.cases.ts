import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { catalogEntry } from './fixtures/apps.js';
import { type Ctx, uniqueName } from './fixtures/context.js';
import { Developer } from './spec-client/developer.js';
import { envelope } from './spec-client/envelope.js';
import { type Answer, get, outcome, post } from './spec-client/http.js';
import { generateSigningKey, type SigningKey } from './spec-client/keys.js';
import { provisionFor } from './spec-client/provisioning.js';

export function masterKeyCases(ctx: Ctx): void {
  describe('SPEC §10.3 Master key rotation and identity recovery', () => {
    const newDeveloper = async () => {
      const dev = new Developer(ctx().registryUrl, uniqueName('keys'));
      assert.equal((await dev.claim()).status, 201);
      return dev;
    };
    const registerWith = (dev: Developer, key: SigningKey) =>
      post(`${ctx().registryUrl}/v1/apps`, dev.appManifest(uniqueName('app').replace('-', '_'), {}, key));
    /** Retries until the answer is what we expect or `seconds` pass (services drop a cached key by broadcast, at the latest after 60 s). */
    const eventually = async (send: () => Promise<Answer>, expected: string, seconds: number) => {
      const deadline = Date.now() + seconds * 1000;
      let last = outcome(await send());
      while (last !== expected && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        last = outcome(await send());
      }
      return last;
    };

    test('planned rotation: old key refused at the registry and, soon, at a service; new key works everywhere', async () => {
      const dev = await newDeveloper();
      const appId = await dev.registerApp('rotating');
      const cms = catalogEntry(ctx(), 'cms-article');
      assert.equal((await provisionFor(dev, cms, appId)).instance.status, 'active', 'the service caches the old Master key');
      const old = dev.master;
      const next = generateSigningKey();
      const rotation = dev.masterKeyRotation(next);
      const url = `${ctx().registryUrl}/v1/namespaces/${dev.namespace}/master-key`;
      assert.equal(
        outcome(await post(url, { ...rotation, new_key_signature: '0'.repeat(128) })),
        '401 invalid_signature',
        'bad new_key_signature',
      );
      assert.equal(outcome(await post(url, dev.masterKeyRotation(next, { context: 'identity_recovery' }))), '400 invalid_request');
      assert.equal(outcome(await post(url, dev.masterKeyRotation(dev.guardians[0]!))), '400 invalid_request', 'a Guardian key as Master');
      const answer = await post(url, rotation);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(outcome(await post(url, rotation)), '409 nonce_reused', 'a replayed rotation');
      assert.equal((await get(`${ctx().registryUrl}/v1/namespaces/${dev.namespace}`)).body.public_key, next.publicKey);
      assert.equal((await get(`${ctx().registryUrl}/v1/apps/${appId}/master-key`)).body.public_key, next.publicKey);
      const log = await get(`${ctx().registryUrl}/v1/apps/${appId}/log`);
      assert.ok(
        log.body.entries.some((entry: { event: string }) => entry.event === 'master_key_rotated'),
        'logged in the app',
      );

      assert.equal(outcome(await registerWith(dev, old)), '401 invalid_signature', 'old key at the registry');
      assert.equal((await registerWith(dev, next)).status, 201, 'new key at the registry');
      dev.master = next;
      const withNew = await provisionFor(dev, cms, appId);
      assert.equal(withNew.instance.status, 'active', `new key at the service (cached key refreshed): ${withNew.answer.text}`);
      dev.master = old;
      const last = await eventually(
        () => post(cms.provision_url, dev.provisioning(appId, cms.provider, { service_tier: 'free', region: 'local' })),
        '401 invalid_signature',
        65,
      );
      assert.equal(last, '401 invalid_signature', 'old key at the service');
    });

    test('recovery by a Guardian key replaces the Master key; attacks are refused', async () => {
      const dev = await newDeveloper();
      const mallory = await newDeveloper();
      const next = generateSigningKey();
      const url = `${ctx().registryUrl}/v1/namespaces/${dev.namespace}/recovery`;
      assert.equal(
        outcome(await post(url, dev.identityRecovery(next, dev.master))),
        '401 invalid_signature',
        'the Master key cannot recover',
      );
      assert.equal(
        outcome(await post(url, dev.identityRecovery(next, mallory.guardians[0]!))),
        '401 invalid_signature',
        "another namespace's Guardian",
      );
      assert.equal(
        outcome(await post(url, dev.identityRecovery(dev.guardians[1]!))),
        '400 invalid_request',
        'a Guardian key as the new Master',
      );
      assert.equal(
        outcome(await post(url, dev.identityRecovery(next, dev.guardians[0], { context: 'master_key_rotation' }))),
        '400 invalid_request',
      );
      const wrongPath = `${ctx().registryUrl}/v1/namespaces/${uniqueName('nobody')}/recovery`;
      const forUnknown = envelope(
        'identity_recovery',
        { ...dev.identityRecovery(next).data, namespace: wrongPath.split('/').at(-2) },
        dev.guardians[0]!,
      );
      assert.equal(outcome(await post(wrongPath, forUnknown)), '404 unknown_namespace');
      const recovery = dev.identityRecovery(next, dev.guardians[1]);
      const answer = await post(url, recovery);
      assert.equal(answer.status, 200, answer.text);
      assert.equal(outcome(await post(url, recovery)), '409 nonce_reused', 'a replayed recovery');
      assert.equal(outcome(await registerWith(dev, dev.master)), '401 invalid_signature', 'the lost key is refused');
      assert.equal((await registerWith(dev, next)).status, 201);
      const rotate = dev.masterKeyRotation(generateSigningKey(), { new_master_public_key: generateSigningKey().publicKey });
      assert.equal(
        outcome(await post(`${ctx().registryUrl}/v1/namespaces/${dev.namespace}/master-key`, rotate)),
        '401 invalid_signature',
        'the lost key cannot rotate',
      );
    });
  });
}
