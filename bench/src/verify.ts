import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, generateKeyPairSync } from 'node:crypto';
import { signedBytes, verify, wirePublicKeyOf } from '@swarm/protocol';
import { type BenchResult, compareSync, result } from './harness.js';

/** Signature verify through the protocol API (JCS + prefix + cached key) vs raw node:crypto verify. */
export function benchVerify(seconds = 1.5): BenchResult[] {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKey = wirePublicKeyOf(privateKey);
  const data = {
    app_id: 'org.omiappreg.alice.business_app.7f8a9d',
    target_provider: 'article.cms.io',
    service_tier: 'pro_cluster',
    region: 'eu-central-1',
    storage_limit_gb: 50,
    timestamp: 1705412600,
    nonce: 'z3x9v2n8',
  };
  const bytes = signedBytes('provision', data);
  const signatureBytes = cryptoSign(null, bytes, privateKey);
  const signature = signatureBytes.toString('hex');
  const keyObject = createPublicKey(privateKey);

  const [api, raw] = compareSync(
    () => {
      if (!verify('provision', data, signature, publicKey)) throw new Error('protocol verify failed');
    },
    () => {
      if (!cryptoVerify(null, bytes, keyObject, signatureBytes)) throw new Error('raw verify failed');
    },
    { seconds: seconds * 2 },
  );
  return [result('protocol verify (JCS + prefix + cached key)', api, 'verify/s', 'raw node:crypto verify', raw, 0.8)];
}
