import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodePublicKey,
  encodePublicKey,
  generateSigningKey,
  isWirePublicKey,
  jwkThumbprint,
  PURPOSES,
  privateKeyToPem,
  sign,
  signedBytes,
  signingKeyFromPem,
  verify,
  wirePublicKeyOf,
} from '../src/index.js';

const key = generateSigningKey();
const other = generateSigningKey();
const purpose = fc.constantFrom(...PURPOSES);
const signedObject = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 6 });

/** Changes one thing in the object: a value, a key, or adds a member. */
const mutate = (object: Record<string, unknown>, choice: number, replacement: unknown): Record<string, unknown> => {
  const keys = Object.keys(object);
  const target = keys[choice % keys.length] as string;
  if (choice % 3 === 0) return { ...object, [`${target}_`]: object[target] };
  if (choice % 3 === 1) {
    const { [target]: moved, ...rest } = object;
    return { ...rest, [`${target}x`]: moved };
  }
  return { ...object, [target]: replacement };
};

describe('sign/verify properties', () => {
  it('any change to the signed object fails verification', () => {
    fc.assert(
      fc.property(purpose, signedObject, fc.nat(), fc.jsonValue({ maxDepth: 2 }), (p, object, choice, replacement) => {
        const signature = sign(p, object, key.privateKey);
        assert.ok(verify(p, object, signature, key.publicKey));
        const changed = mutate(object, choice, replacement);
        const same = signedBytes(p, changed).equals(signedBytes(p, object));
        assert.equal(verify(p, changed, signature, key.publicKey), same);
      }),
      { numRuns: 300 },
    );
  });

  it('a flipped bit in the signature, another key or another purpose never verifies', () => {
    fc.assert(
      fc.property(purpose, purpose, signedObject, fc.nat(511), (p, q, object, bit) => {
        const signature = sign(p, object, key.privateKey);
        const bytes = Buffer.from(signature, 'hex');
        bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
        assert.equal(verify(p, object, bytes.toString('hex'), key.publicKey), false);
        assert.equal(verify(p, object, signature, other.publicKey), false);
        if (p !== q) assert.equal(verify(q, object, signature, key.publicKey), false);
      }),
      { numRuns: 300 },
    );
  });

  it('malformed keys and signatures verify as false, never throw', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (signature, publicKey) => {
        assert.equal(verify('provision', { a: 1 }, signature, publicKey), false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('keys', () => {
  it('encodes raw keys as ed25519:<base64url> and refuses non-canonical forms', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (raw) => {
        const wire = encodePublicKey(raw);
        assert.ok(isWirePublicKey(wire));
        assert.deepEqual(new Uint8Array(decodePublicKey(wire)), raw);
      }),
    );
    assert.equal(isWirePublicKey(`${key.publicKey}=`), false);
    assert.equal(isWirePublicKey(key.publicKey.replace('ed25519:', 'ED25519:')), false);
    assert.equal(isWirePublicKey('ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp'), false);
  });

  it('round-trips PKCS#8 PEM', () => {
    const pem = privateKeyToPem(key.privateKey);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(signingKeyFromPem(pem).publicKey, key.publicKey);
  });

  it('writes the PEM OpenSSL writes, and the public key node:crypto derives', () => {
    for (let i = 0; i < 200; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      assert.equal(privateKeyToPem(privateKey), privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
      const x = publicKey.export({ format: 'jwk' }).x as string;
      assert.equal(wirePublicKeyOf(privateKey), `ed25519:${x}`);
    }
  });

  it('computes the RFC 7638 thumbprint of the RFC 8037 example key', () => {
    // RFC 8037 Appendix A.3
    assert.equal(jwkThumbprint('ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'), 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });
});
