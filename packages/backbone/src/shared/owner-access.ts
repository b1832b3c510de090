import { audienceOf, OwnerQuery, type OwnerQueryData, type ReplayStore, SwarmError } from '@swarm/protocol';
import { type Egress, type RegistryClient, requireBearerToken, requireRole, SubjectRevocations, verifyOwnerSigned } from '@swarm/runtime';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { AppAuthCache } from './app-records.js';

/**
 * An app's usage and logs are its owner's only (SPEC §9.3): a token of that app with the
 * `admin` role, or an `owner_query` envelope signed by the app's Master key.
 */
export class OwnerAccess {
  readonly #registry: RegistryClient;
  readonly #appAuth: AppAuthCache;
  readonly #replay: ReplayStore;
  readonly #freshnessSeconds: number;

  readonly #revocations: SubjectRevocations;

  constructor(registry: RegistryClient, appAuth: AppAuthCache, replay: ReplayStore, freshnessSeconds: number, egress?: Egress) {
    this.#revocations = new SubjectRevocations(egress ? { egress } : {});
    this.#registry = registry;
    this.#appAuth = appAuth;
    this.#replay = replay;
    this.#freshnessSeconds = freshnessSeconds;
  }

  /** Checks `Authorization: Bearer <token>` for an admin of `appId`. */
  async requireAdminToken(appId: string, authorization: string | undefined): Promise<void> {
    this.#registry.registryFor(appId);
    const token = requireBearerToken(authorization, 'invalid_token');
    const kid = protectedKid(token);
    const auth = await this.#appAuth.forKid(appId, kid);
    if (!auth) throw new SwarmError('invalid_token', 'the app has no auth provider');
    let roles: unknown;
    let claims: { sub?: string; iat?: number };
    try {
      const { payload } = await jwtVerify(token, auth.keys, {
        issuer: auth.issuer,
        audience: appId,
        algorithms: ['EdDSA'],
        clockTolerance: 60,
        requiredClaims: ['exp', 'sub'],
      });
      roles = payload.roles;
      claims = payload;
    } catch {
      throw new SwarmError('invalid_token', 'token is not valid for this app');
    }
    // Owner reads are rare: the issuer's list of voided users is read when older than 10 s.
    if (await this.#revocations.isRevokedNow(auth.issuer, claims.sub, claims.iat)) {
      throw new SwarmError('invalid_token', 'this token was voided by its Auth Provider: its user was removed or changed');
    }
    requireRole(roles, 'admin');
  }

  /**
   * Checks a Master-signed `owner_query` envelope and answers its filters. Its `audience` must
   * name this receiver (`forbidden` otherwise, before the signature is looked at): one of
   * `ownUrls` (where it listens or is published), or the URL the app's own record at its registry
   * lists for this `receiver` (a receiver behind a proxy knows only the former).
   */
  async verifySignedQuery(body: unknown, receiver: { kind: 'billing' | 'logging'; ownUrls: () => string[] }): Promise<OwnerQueryData> {
    const { data } = await verifyOwnerSigned(OwnerQuery, body, {
      purpose: 'owner_query',
      // Billing answers usage, Logging logs: each is its own delegable action.
      action: receiver.kind === 'billing' ? 'read_usage' : 'read_logs',
      registry: this.#registry,
      replay: this.#replay,
      freshnessSeconds: this.#freshnessSeconds,
      expect: async (data) => {
        const audience = audienceOf(data.audience);
        if (receiver.ownUrls().some((url) => audienceOf(url) === audience)) return;
        const listed = await this.#appAuth.receiverUrl(data.app_id, receiver.kind);
        if (listed && audienceOf(listed) === audience) return;
        throw new SwarmError('forbidden', `this query is for ${data.audience}, not this ${receiver.kind} service`);
      },
    });
    return data;
  }
}

function protectedKid(token: string): string {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new SwarmError('invalid_token', 'token is not a JWS');
  }
  if (header.alg !== 'EdDSA' || typeof header.kid !== 'string') throw new SwarmError('invalid_token', 'token must be EdDSA with a kid');
  return header.kid;
}
