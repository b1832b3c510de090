import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, privateKeyToPem, type SigningKey, signingKeyFromPem } from '@swarm/protocol';

/** The provider key, created once and kept in `<dataDir>/auth-provider-key.pem` (0600). */
export async function loadOrCreateProviderKey(dataDir: string): Promise<SigningKey> {
  const file = join(dataDir, 'auth-provider-key.pem');
  try {
    return signingKeyFromPem(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
  const key = generateSigningKey();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    // `wx`: when two starts race, the second reads the first one's key.
    await writeFile(file, privateKeyToPem(key.privateKey), { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    return key;
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    return signingKeyFromPem(await readFile(file, 'utf8'));
  }
}
