import { createHash } from 'node:crypto';
import { parseAnswer, RevokedSubjects } from '@swarm/protocol';
import { forEachLimited } from './delivery-lanes.js';
import type { Egress } from './egress.js';
import { requestJson } from './http-client.js';
import { SingleFlight } from './ttl-cache.js';

/** Issuer lists read at once by a refresh. */
const REFRESH_CONCURRENCY = 8;
/** Issuers whose lists a part keeps (one per app it serves or is asked about). */
const MAX_ISSUERS = 10_000;

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
  /** When each issuer's list was last read, in that order (oldest first). */
  readonly #fetchedAt = new Map<string, number>();
  readonly #loads = new SingleFlight<string, void>();
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

  /**
   * Fetches the lists of `issuers` (the issuers of the active instances), forgetting the rest;
   * a few at a time, since each is a URL a tenant chose and may be slow or large.
   */
  async refresh(issuers: Iterable<string>): Promise<void> {
    const wanted = new Set(issuers);
    for (const issuer of this.#byIssuer.keys()) if (!wanted.has(issuer)) this.#forget(issuer);
    await forEachLimited([...wanted], REFRESH_CONCURRENCY, (issuer) => this.#load(issuer).catch(() => {}));
  }

  /**
   * For parts that check tokens rarely (Billing's and Logging's owner reads): reads one issuer's
   * list when the one held is older than `maxAgeMs`, then answers like `isRevoked`.
   */
  async isRevokedNow(issuer: string, sub: string | undefined, iat: number | undefined, maxAgeMs = 10_000): Promise<boolean> {
    if ((this.#fetchedAt.get(issuer) ?? 0) + maxAgeMs <= Date.now()) {
      // Bounded: the issuer asked about longest ago leaves first.
      if (!this.#fetchedAt.has(issuer) && this.#fetchedAt.size >= MAX_ISSUERS) {
        const oldest = this.#fetchedAt.keys().next().value;
        if (oldest !== undefined) this.#forget(oldest);
      }
      // Callers arriving meanwhile wait for the same fetch instead of answering from no list.
      await this.#load(issuer).catch(() => {});
    }
    return this.isRevoked(issuer, typeof sub === 'string' ? subjectHash(sub) : null, iat);
  }

  /** One fetch per issuer at a time; the time is taken once it answered. */
  #load(issuer: string): Promise<void> {
    return this.#loads.run(issuer, async () => {
      try {
        await this.#fetch(issuer);
      } finally {
        this.#fetchedAt.delete(issuer);
        this.#fetchedAt.set(issuer, Date.now());
      }
    });
  }

  #forget(issuer: string): void {
    this.#byIssuer.delete(issuer);
    this.#fetchedAt.delete(issuer);
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
