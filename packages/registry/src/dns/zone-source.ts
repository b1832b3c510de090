/** One active, healthy service instance as Service DNS publishes it (SPEC §7). */
export interface DnsInstance {
  serviceType: string;
  serviceId: string;
  endpointUrl: string;
  publicKey: string;
  tier: string | null;
  region: string | null;
}

/**
 * An app zone whose app moved to another registry (docs/DNS.md, "Migration"): names under it
 * answer a DNAME to `target`, and its apex a TXT `successor=<successor>`.
 */
export interface MovedZone {
  /** The app's zone at its new registry, lowercase, no trailing dot. */
  target: string;
  /** The new registry's authority. */
  successor: string;
}

export interface DnsZoneSource {
  /**
   * Active, healthy instances of the app whose zone is given (reversed app_id, no trailing dot,
   * lowercase, e.g. '7f8a9d.business_app.alice.omiappreg.org'); null when no such app; a
   * `MovedZone` while the app's old zone points at its new registry.
   */
  instancesForZone(zone: string): Promise<DnsInstance[] | MovedZone | null>;
  /**
   * Optional: lets the server keep whole encoded replies for as long as the source's answers
   * stand (the registry: for the rest of the second, until the next commit). Runs `build` when
   * nothing is kept under `key`; keeps what it built only if `keep` says so.
   */
  keepReplies?(key: string, build: () => Promise<Buffer | null>, keep: (reply: Buffer | null) => boolean): Promise<Buffer | null>;
}

export interface DnsLogger {
  warn(obj: unknown, msg?: string): void;
}
