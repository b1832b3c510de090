import { type DelegableAction, nowSeconds, type Purpose, SwarmError, verify } from '@swarm/protocol';
import { consumeNonce } from './checks.js';
import type { RegistryContext } from './context.js';
import type { AppRow } from './storage/apps.js';
import { activeDelegationsOfApp } from './storage/delegations.js';
import { findNamespace } from './storage/namespaces.js';

/**
 * The key an owner's signature verifies under: the namespace's Master key, or, where the request
 * is one a delegation may grant (`action`), a key the Master key granted that action on this app
 * and that is neither expired nor revoked (docs/PROTOCOL.md, "Delegated keys"). A delegated key
 * whose grant lacks the action is `403 forbidden`; a key nobody granted anything is
 * `invalid_signature`. Grants are read from the database on every such request, so a
 * revocation holds from the next request on.
 */
export async function ownerSignerKey(
  ctx: RegistryContext,
  app: AppRow,
  masterKey: string,
  purpose: Purpose,
  data: unknown,
  signature: string,
  action?: DelegableAction,
): Promise<string> {
  if (verify(purpose, data, signature, masterKey)) return masterKey;
  if (action) {
    const grants = await activeDelegationsOfApp(ctx.db, app.ownerNamespace, app.appId, nowSeconds());
    const grant = grants.find((candidate) => verify(purpose, data, signature, candidate.publicKey));
    if (grant) {
      if (!grant.actions.includes(action)) {
        throw new SwarmError('forbidden', `delegation ${grant.delegationId} does not grant ${action} on ${app.appId}`);
      }
      return grant.publicKey;
    }
  }
  throw new SwarmError('invalid_signature', `signature does not verify for purpose ${purpose}`);
}

/**
 * Verifies an owner-signed request on an app (Master key, or a delegated key granted `action`),
 * then consumes its nonce under the key that signed. Returns that key.
 */
export async function requireMasterSigned(
  ctx: RegistryContext,
  app: AppRow,
  purpose: Purpose,
  data: { nonce: string; timestamp: number },
  signature: string,
  /** Further checks that must pass before the nonce is spent. */
  thenCheck?: () => void,
  /** The delegable action this request is, if a delegated key may sign it. */
  action?: DelegableAction,
): Promise<string> {
  const namespace = await findNamespace(ctx.db, app.ownerNamespace);
  if (!namespace) throw new SwarmError('unknown_app', `app ${app.appId} has no namespace`);
  const signer = await ownerSignerKey(ctx, app, namespace.publicKey, purpose, data, signature, action);
  thenCheck?.();
  await consumeNonce(ctx, signer, data);
  return signer;
}
