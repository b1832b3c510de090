import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  encodePublicKey,
  generateSigningKey,
  isWirePublicKey,
  NamespaceClaimData,
  readJsonBody,
  SwarmError,
  sign,
  signedBytes,
  verify,
} from '../src/index.js';

/** The encodings libsodium refuses as small-order public keys, canonical and not. */
const SMALL_ORDER_HEX = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

/** The same with the sign bit set, and y ≥ p: non-canonical encodings. */
const signBitSet = (hex: string) => hex.slice(0, 62) + (Number.parseInt(hex.slice(62), 16) | 0x80).toString(16).padStart(2, '0');
const wire = (hex: string) => encodePublicKey(Buffer.from(hex, 'hex'));

describe('public keys a signature cannot bind to are refused', () => {
  it('refuses every small-order point, with or without the sign bit', () => {
    for (const hex of SMALL_ORDER_HEX) {
      assert.equal(isWirePublicKey(wire(hex)), false, hex);
      assert.equal(isWirePublicKey(wire(signBitSet(hex))), false, signBitSet(hex));
    }
  });

  it('refuses y ≥ p (non-canonical field elements)', () => {
    assert.equal(isWirePublicKey(wire(`f0${'ff'.repeat(30)}7f`)), false);
    assert.equal(isWirePublicKey(wire(`${'ff'.repeat(31)}7f`)), false);
  });

  it('takes every generated key', () => {
    for (let i = 0; i < 200; i++) assert.equal(isWirePublicKey(generateSigningKey().publicKey), true);
  });

  it('the identity key, under which one constant signature verifies every message, is refused by the schemas', () => {
    const identity = wire(SMALL_ORDER_HEX[1]!);
    const claim = { public_key: identity, guardian_public_keys: [generateSigningKey().publicKey] };
    const parsed = NamespaceClaimData.safeParse({
      ...claim,
      namespace_claim: 'a',
      contact_email: 'a@b.cd',
      timestamp: 1,
      nonce: 'abcdefgh',
    });
    assert.equal(parsed.success, false);
    // And verify never takes it either: (R = identity, S = 0) would pass a cofactored check.
    const constant = `01${'00'.repeat(31)}${'00'.repeat(32)}`;
    assert.equal(verify('app', { any: 'message' }, constant, identity), false);
  });
});

describe('strings without a canonical form are refused, never thrown', () => {
  it('a lone surrogate in a body is invalid_request', () => {
    for (const text of ['{"a":"\\ud800"}', '{"\\udc00":1}', '{"a":["x",{"b":"\\udfff\\ud800"}]}']) {
      assert.throws(
        () => readJsonBody(text),
        (error: unknown) => error instanceof SwarmError && error.code === 'invalid_request',
      );
    }
    assert.deepEqual(readJsonBody('{"a":"\\ud83d\\ude00"}'), { a: '😀' });
  });

  it('verify answers false and signedBytes throws a SwarmError for any string (property)', () => {
    const key = generateSigningKey();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 16 }), (text) => {
        const object = { text };
        let bytes: Buffer | null = null;
        try {
          bytes = signedBytes('app', object);
        } catch (error) {
          assert.ok(error instanceof SwarmError && error.code === 'invalid_request');
        }
        const signature = bytes ? sign('app', object, key.privateKey) : 'a'.repeat(128);
        assert.equal(verify('app', object, signature, key.publicKey), bytes !== null);
      }),
      { numRuns: 500 },
    );
  });
});
