import { readFile, writeFile } from 'node:fs/promises';
import { generateSigningKey, newNonce, nowSeconds, privateKeyToPem, type SigningKey, SwarmError, signingKeyFromPem } from '@swarm/protocol';

/** Reads an Ed25519 private key from a PKCS#8 PEM file. */
export async function loadKey(file: string): Promise<SigningKey> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (cause) {
    throw new SwarmError('invalid_request', `cannot read key file ${file}`, { cause });
  }
  return signingKeyFromPem(pem);
}

/**
 * Creates a key pair and writes its private half to `file` as PKCS#8 PEM, readable by the
 * owner only. An existing file is never overwritten: it may be the only copy of a Master key.
 */
export async function keygen(file: string): Promise<SigningKey> {
  const key = generateSigningKey();
  try {
    await writeFile(file, privateKeyToPem(key.privateKey), { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    const exists = (cause as { code?: string }).code === 'EEXIST';
    throw new SwarmError(exists ? 'conflict' : 'invalid_request', exists ? `${file} already exists` : `cannot write ${file}`, { cause });
  }
  return key;
}

/** The `timestamp` and `nonce` every signed request carries (SPEC §3). */
export function freshness(): { timestamp: number; nonce: string } {
  return { timestamp: nowSeconds(), nonce: newNonce() };
}
