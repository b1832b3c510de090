import { createHash } from 'node:crypto';
import { parseAnswer, RevokedSubjects } from '@swarm/protocol';
import type { Egress } from './egress.js';
import { requestJson } from './http-client.js';

/** The hash an Auth Provider publishes for a removed or changed user (docs/BACKBONE.md). */
export function subjectHash(sub: string): string {
  return createHash('sha256').update(sub).digest('base64url');
}

/** The published list is small; anything larger than this is not a list we take. */
const MAX_LIST_BYTES = 8 * 1024 * 1024;

/**
 * Users whose tokens an app's Auth Provider has voided (removed, roles changed, password reset),
 * per issuer, from `<issuer>/v1/revoked-subjects`. Polled in the background, so a request costs
 * one map lookup and no network call; a removed user's tokens stop working at the next poll.
 * An issuer that does not publish a list (404) voids nothing; one that cannot be reached keeps
 * its last list.
 */
export class SubjectRevocations {
  readonly #byIssuer = new Map<string, Map<string, number>>();
  readonly #fetchedAt = new Map<string, number>();
  readonly #egress: Egress | undefined;

  /** `egress`: issuers are URLs tenants chose (their Auth Provider), sent to under the part's policy. */
  constructor(options: { egress?: Egress } = {}) {
    this.#egress = options.egress;
  }

  /** Whether a token of `sub` issued at `iat` was voided. A token without `iat` of a listed user is. */
  isRevoked(issuer: string, subHash: string | null, iat: number | undefined): boolean {
    if (subHash === null) return false;
    const revokedAt = this.#byIssuer.get(issuer)?.get(subHash);
    return revokedAt !== undefined && (iat === undefined || iat <= revokedAt);
  }

  /** Fetches the lists of `issuers` (the issuers of the active instances), forgetting the rest. */
  async refresh(issuers: Iterable<string>): Promise<void> {
    const wanted = new Set(issuers);
    for (const issuer of this.#byIssuer.keys()) if (!wanted.has(issuer)) this.#byIssuer.delete(issuer);
    await Promise.allSettled([...wanted].map((issuer) => this.#fetch(issuer)));
  }

  /**
   * For parts that check tokens rarely (Billing's and Logging's owner reads): reads one issuer's
   * list when the one held is older than `maxAgeMs`, then answers like `isRevoked`.
   */
  async isRevokedNow(issuer: string, sub: string | undefined, iat: number | undefined, maxAgeMs = 10_000): Promise<boolean> {
    if ((this.#fetchedAt.get(issuer) ?? 0) + maxAgeMs <= Date.now()) {
      // Bounded: one entry per issuer asked about; a part that meets too many starts over.
      if (this.#fetchedAt.size >= 10_000) {
        this.#fetchedAt.clear();
        this.#byIssuer.clear();
      }
      this.#fetchedAt.set(issuer, Date.now());
      await this.#fetch(issuer).catch(() => {});
    }
    return this.isRevoked(issuer, typeof sub === 'string' ? subjectHash(sub) : null, iat);
  }

  async #fetch(issuer: string): Promise<void> {
    const { status, body } = await requestJson('GET', `${issuer}/v1/revoked-subjects`, undefined, {
      timeoutMs: 5000,
      maxResponseBytes: MAX_LIST_BYTES,
      ...(this.#egress ? { egress: this.#egress } : {}),
    });
    if (status === 404) {
      this.#byIssuer.delete(issuer);
      return;
    }
    if (status !== 200) return;
    const list = parseAnswer(RevokedSubjects, body, issuer);
    this.#byIssuer.set(issuer, new Map(list.subjects.map((entry) => [entry.sub_hash, entry.revoked_at])));
  }
}
