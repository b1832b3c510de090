import { type Purpose, requireSignature, SwarmError } from '@swarm/protocol';
import { consumeNonce } from './checks.js';
import type { RegistryContext } from './context.js';
import type { AppRow } from './storage/apps.js';
import { findNamespace } from './storage/namespaces.js';

/** Verifies a Master-signed request on an app, then consumes its nonce under that key. */
export async function requireMasterSigned(
  ctx: RegistryContext,
  app: AppRow,
  purpose: Purpose,
  data: { nonce: string; timestamp: number },
  signature: string,
  /** Further checks that must pass before the nonce is spent. */
  thenCheck?: () => void,
): Promise<string> {
  const namespace = await findNamespace(ctx.db, app.ownerNamespace);
  if (!namespace) throw new SwarmError('unknown_app', `app ${app.appId} has no namespace`);
  requireSignature(purpose, data, signature, namespace.publicKey);
  thenCheck?.();
  await consumeNonce(ctx, namespace.publicKey, data);
  return namespace.publicKey;
}
