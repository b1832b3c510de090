import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { catalogEntry } from './fixtures/apps.js';
import { type Ctx, uniqueName } from './fixtures/context.js';
import { fresh } from './spec-client/envelope.js';
import { post } from './spec-client/http.js';
import { generateSigningKey, signObject, verifyObject } from './spec-client/keys.js';
import { OpensslKey, opensslVerify } from './spec-client/openssl.js';
import { provision } from './spec-client/provisioning.js';

export function opensslCases(ctx: Ctx): void {
  describe('SPEC §3 with the openssl command line as the developer’s Master key', () => {
    const master = new OpensslKey();
    const guardian = new OpensslKey();
    after(() => {
      master.dispose();
      guardian.dispose();
    });

    test('openssl and this client agree on signatures both ways', () => {
      const object = { b: 'Zürich ✓', a: { z: 1, y: [true, null] } };
      assert.ok(verifyObject('app', object, master.sign('app', object), master.publicKey));
      const ours = generateSigningKey();
      assert.ok(opensslVerify('app', object, signObject('app', object, ours), ours.publicKey));
      assert.equal(opensslVerify('namespace', object, signObject('app', object, ours), ours.publicKey), false);
    });

    test('namespace claim, app registration, auth delegation and provisioning, all signed by openssl', async () => {
      const { registryUrl } = ctx();
      const namespace = uniqueName('openssl');
      const claim = master.envelope(
        'namespace',
        fresh({
          public_key: master.publicKey,
          guardian_public_keys: [guardian.publicKey],
          namespace_claim: namespace,
          contact_email: 'ops@example.test',
        }),
      );
      const claimed = await post(`${registryUrl}/v1/namespaces`, claim);
      assert.equal(claimed.status, 201, claimed.text);
      const app = await post(
        `${registryUrl}/v1/apps`,
        master.envelope('app', fresh({ owner_namespace: namespace, project_slug: 'cli', display_name: 'CLI app' })),
      );
      assert.equal(app.status, 201, app.text);
      const appId = app.body.app_id as string;
      const delegation = master.envelope(
        'delegate_authority',
        fresh({
          action: 'DELEGATE_AUTHORITY',
          app_id: appId,
          auth_public_key: generateSigningKey().publicKey,
          auth_provider_url: `https://auth.acceptance.test/apps/${appId}`,
        }),
      );
      const delegated = await post(`${registryUrl}/v1/apps/${appId}/auth`, delegation);
      assert.equal(delegated.status, 200, delegated.text);
      const entry = catalogEntry(ctx(), 'cms-article');
      const request = master.envelope(
        'provision',
        fresh({ app_id: appId, target_provider: entry.provider, service_tier: 'free', region: 'local' }),
      );
      const { answer, instance } = await provision(entry, request);
      assert.ok([201, 202].includes(answer.status), answer.text);
      assert.equal(instance.status, 'active', JSON.stringify(instance));
    });
  });
}
