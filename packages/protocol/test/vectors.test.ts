import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildVectors, type TestVector, VECTORS_PATH } from '../../../scripts/gen-test-vectors.ts';
import { EXTENSION_PURPOSES, PURPOSES, signedBytes, signingKeyFromSeed, verify } from '../src/index.js';
import { independentSignedBytes, independentVerify } from './independent-verifier.js';

const published = (JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as { vectors: TestVector[] }).vectors;

describe('docs/test-vectors.json', () => {
  it('is exactly what the code produces from the fixed seeds (run `npm run vectors` after a deliberate change)', () => {
    assert.deepEqual(published, buildVectors());
  });

  it('covers every purpose', () => {
    const covered = new Set(published.map((vector) => vector.purpose));
    for (const purpose of [...PURPOSES, ...EXTENSION_PURPOSES]) assert.ok(covered.has(purpose), purpose);
  });

  it('contains non-ASCII text, nested objects and keys that JCS reorders', () => {
    const texts = published.map((vector) => JSON.stringify(vector.object));
    assert.ok(texts.some((text) => /[^\x00-\x7f]/.test(text)));
    assert.ok(
      published.some((vector) => Object.values(vector.object as object).some((v) => v && typeof v === 'object' && !Array.isArray(v))),
    );
    assert.ok(
      published.some(
        (vector) =>
          Object.keys(vector.object as object).join() !==
          Object.keys(vector.object as object)
            .sort()
            .join(),
      ),
    );
  });

  for (const vector of published) {
    it(`${vector.purpose}: ${vector.name} verifies under our code and an independent one`, () => {
      const key = signingKeyFromSeed(Buffer.from(vector.private_key_seed_hex, 'hex'));
      assert.equal(key.publicKey, vector.public_key);
      assert.equal(signedBytes(vector.purpose as never, vector.object).toString('hex'), vector.signed_bytes_hex);
      assert.equal(independentSignedBytes(vector.purpose, vector.object).toString('hex'), vector.signed_bytes_hex);
      assert.ok(verify(vector.purpose as never, vector.object, vector.signature, vector.public_key));
      assert.ok(independentVerify(vector.purpose, vector.object, vector.signature, vector.public_key));
      for (const other of PURPOSES.filter((p) => p !== vector.purpose)) {
        assert.equal(verify(other, vector.object, vector.signature, vector.public_key), false);
      }
    });
  }
});
