import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSigningKey, PURPOSES, sign, signEnvelope, verify } from '../src/index.js';

describe('sign and verify', () => {
  it('verifies a signature for its purpose and object only', () => {
    const key = generateSigningKey();
    const data = { b: 'é', a: { z: 1, y: [1, 2] } };
    const envelope = signEnvelope('provision', data, key.privateKey);
    assert.equal(envelope.version, '1.0');
    assert.match(envelope.signature, /^[0-9a-f]{128}$/);
    assert.ok(verify('provision', { a: { y: [1, 2], z: 1 }, b: 'é' }, envelope.signature, key.publicKey));
    for (const purpose of PURPOSES.filter((p) => p !== 'provision')) {
      assert.equal(verify(purpose, data, envelope.signature, key.publicKey), false, purpose);
    }
    assert.equal(verify('provision', { ...data, b: 'e' }, envelope.signature, key.publicKey), false);
    assert.equal(verify('provision', data, envelope.signature, generateSigningKey().publicKey), false);
    assert.equal(verify('provision', data, sign('provision', data, key.privateKey).toUpperCase(), key.publicKey), false);
  });
});
