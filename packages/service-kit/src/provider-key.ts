import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, privateKeyToPem, type SigningKey, signingKeyFromPem } from '@swarm/protocol';

/** The provider key from `<dataDir>/provider-key.pem`, created (0600) the first time. */
export function loadOrCreateProviderKey(dataDir: string): SigningKey {
  const file = join(dataDir, 'provider-key.pem');
  try {
    return signingKeyFromPem(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = generateSigningKey();
  try {
    writeFileSync(file, privateKeyToPem(key.privateKey), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another replica on the same data dir won the race: use its key.
    if ((error as { code?: string }).code === 'EEXIST') return signingKeyFromPem(readFileSync(file, 'utf8'));
    throw error;
  }
  chmodSync(file, 0o600);
  return key;
}
