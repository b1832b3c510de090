// Writes docs/test-vectors.json (SPEC §3) from fixed seeds. Run: npm run vectors
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sign, signedBytes, signingKeyFromSeed } from '@swarm/protocol';
import { seedFor, VECTOR_CASES } from './test-vector-cases.ts';

export interface TestVector {
  name: string;
  purpose: string;
  private_key_seed_hex: string;
  public_key: string;
  object: unknown;
  signed_bytes_hex: string;
  signature: string;
}

/** `ed25519:<label>` placeholders in a case stand for the public key of that seed label. */
function resolveKeys(value: unknown, own: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/^ed25519:<(\w+)>$/, (_m, label: string) =>
      label === 'self' ? own : signingKeyFromSeed(seedFor(label)).publicKey,
    );
  }
  if (Array.isArray(value)) return value.map((item) => resolveKeys(item, own));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveKeys(item, own)]));
  }
  return value;
}

export function buildVectors(): TestVector[] {
  return VECTOR_CASES.map((vectorCase) => {
    const seed = seedFor(vectorCase.seedLabel);
    const key = signingKeyFromSeed(seed);
    const object = resolveKeys(vectorCase.object, key.publicKey);
    return {
      name: vectorCase.name,
      purpose: vectorCase.purpose,
      private_key_seed_hex: seed.toString('hex'),
      public_key: key.publicKey,
      object,
      signed_bytes_hex: signedBytes(vectorCase.purpose, object).toString('hex'),
      signature: sign(vectorCase.purpose, object, key.privateKey),
    };
  });
}

export const VECTORS_PATH = fileURLToPath(new URL('../docs/test-vectors.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(VECTORS_PATH, `${JSON.stringify({ vectors: buildVectors() }, null, 2)}\n`);
  console.log(`wrote ${VECTORS_PATH}`);
}
