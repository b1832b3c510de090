import { calculateJwkThumbprint } from 'jose';
import type { Json } from './http.js';
import { verifyObject } from './keys.js';

/** SPEC §5.3: the context's signature under the registry key, and its auth block's shape. */
export async function checkContext(answer: Json, registryKey: string, appId: string): Promise<string[]> {
  const problems: string[] = [];
  const context = answer.operational_context;
  if (!verifyObject('operational_context', context, answer.context_signature, registryKey)) problems.push('context_signature');
  if (verifyObject('broadcast', context, answer.context_signature, registryKey)) problems.push('verifies for another purpose');
  if (context.app_id !== appId) problems.push('app_id');
  if (!Number.isInteger(context.config_epoch) || !Number.isInteger(context.issued_at)) problems.push('epoch/issued_at');
  if (context.registry?.public_key !== registryKey) problems.push('registry.public_key');
  if (context.auth) {
    if (context.auth.issuer !== context.auth.auth_provider_url) problems.push('auth.issuer ≠ auth_provider_url');
    if (context.auth.audience !== appId) problems.push('auth.audience');
    for (const key of context.auth.jwks?.keys ?? []) {
      const thumbprint = await calculateJwkThumbprint({ kty: key.kty, crv: key.crv, x: key.x }, 'sha256');
      if (key.kid !== thumbprint || key.kty !== 'OKP' || key.crv !== 'Ed25519') problems.push(`jwk ${key.kid}`);
    }
  }
  return problems;
}
