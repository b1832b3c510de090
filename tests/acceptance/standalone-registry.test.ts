import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uniqueName } from './fixtures/context.js';
import { type StandaloneRegistry, startStandaloneRegistry } from './fixtures/standalone-registry.js';
import { Developer } from './spec-client/developer.js';
import { get, outcome, post } from './spec-client/http.js';
import { generateSigningKey, signObject } from './spec-client/keys.js';
import { OpensslKey } from './spec-client/openssl.js';

describe('acceptance: a standalone registry (SPEC §4.1 admission token, §13 --registry-key)', () => {
  const ADMISSION = 'acceptance-admission-token';
  const registryKey = new OpensslKey();
  let registry: StandaloneRegistry;

  before(async () => {
    registry = await startStandaloneRegistry(['--registry-key', registryKey.pem], { SWARM_ADMISSION_TOKEN: ADMISSION });
  });
  after(async () => {
    await registry?.close();
    registryKey.dispose();
  });

  test('the registry signs with the key from --registry-key FILE (PKCS#8 PEM)', async () => {
    const wellKnown = await get(`${registry.url}/.well-known/swarm-registry`);
    assert.equal(wellKnown.status, 200);
    assert.equal(wellKnown.body.public_key, registryKey.publicKey);
  });

  test('with an admission token, a claim needs Authorization: Bearer <token> (else 403 forbidden)', async () => {
    const dev = new Developer(registry.url, uniqueName('admitted'));
    assert.equal(outcome(await dev.claim()), '403 forbidden', 'no token');
    assert.equal(outcome(await dev.claim({ authorization: 'Bearer wrong-token' })), '403 forbidden', 'wrong token');
    const forged = dev.namespaceClaim();
    forged.signature = signObject('namespace', forged.data, generateSigningKey());
    assert.equal(
      outcome(await post(`${registry.url}/v1/namespaces`, forged, { authorization: `Bearer ${ADMISSION}` })),
      '401 invalid_signature',
    );
    const admitted = await dev.claim({ authorization: `Bearer ${ADMISSION}` });
    assert.equal(admitted.status, 201, admitted.text);
  });
});
