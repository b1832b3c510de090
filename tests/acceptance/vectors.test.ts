import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyFromSeed, signedBytes, signObject, verifyObject } from './spec-client/keys.js';

interface Vector {
  name: string;
  purpose: string;
  private_key_seed_hex: string;
  public_key: string;
  object: unknown;
  signed_bytes_hex: string;
  signature: string;
}

const file = join(import.meta.dirname, '..', '..', 'docs', 'test-vectors.json');
const { vectors } = JSON.parse(readFileSync(file, 'utf8')) as { vectors: Vector[] };

const SPEC_PURPOSES = [
  'namespace',
  'app',
  'provision',
  'delegate_authority',
  'backbone_update',
  'master_key_rotation',
  'identity_recovery',
  'offer',
  'binding',
  'operational_context',
  'service_call',
  'key_rotation',
  'permanent_termination',
  'termination_receipt',
  'decommission',
  'broadcast',
];

test('SPEC §3: at least one vector per purpose, with non-ASCII text and nested objects', () => {
  const purposes = new Set(vectors.map((vector) => vector.purpose));
  for (const purpose of SPEC_PURPOSES) assert.ok(purposes.has(purpose), `no vector for ${purpose}`);
  const all = JSON.stringify(vectors.map((vector) => vector.object));
  assert.ok(/[^\x00-\x7f]/.test(all), 'no non-ASCII text');
  assert.ok(
    vectors.some((vector) =>
      Object.values(vector.object as object).some((value) => value && typeof value === 'object' && !Array.isArray(value)),
    ),
    'no nested object',
  );
  assert.ok(
    vectors.some((vector) => JSON.stringify(vector.object) !== JSON.stringify(sortKeys(vector.object))),
    'no vector whose keys JCS reorders',
  );
});

for (const vector of vectors) {
  test(`vector ${vector.purpose}: ${vector.name}`, () => {
    const key = keyFromSeed(vector.private_key_seed_hex);
    assert.equal(key.publicKey, vector.public_key, 'public key from the seed');
    assert.equal(signedBytes(vector.purpose, vector.object).toString('hex'), vector.signed_bytes_hex, 'signed bytes');
    assert.ok(verifyObject(vector.purpose, vector.object, vector.signature, vector.public_key), 'signature verifies');
    assert.equal(signObject(vector.purpose, vector.object, key), vector.signature, 'Ed25519 is deterministic');
    const other = vector.purpose === 'app' ? 'namespace' : 'app';
    assert.equal(verifyObject(other, vector.object, vector.signature, vector.public_key), false, 'another purpose fails');
  });
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
