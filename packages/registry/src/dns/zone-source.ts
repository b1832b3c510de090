import type { ZoneVersion } from './zone-version.js';

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

/** An app zone and its instances, as a zone transfer reads them. */
export interface DnsAppZone {
  /** Reversed app_id, lowercase, no trailing dot. */
  zone: string;
  instances: DnsInstance[];
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
  /**
   * Optional: every app zone that has an instance, for zone transfers (AXFR, IXFR); without it
   * transfers are refused.
   */
  everyZone?(): Promise<DnsAppZone[]>;
  /**
   * Optional: the zone's version, moved by the source whenever an answer changes (the registry: each
   * commit, each change another replica announces, each instance whose beats stopped); without it the
   * server keeps one that steps hourly and with what transfers send (zone-version.ts).
   */
  version?: ZoneVersion;
  keepReplies?(key: string, build: () => Promise<Buffer | null>, keep: (reply: Buffer | null) => boolean): Promise<Buffer | null>;
  /** Optional, with `keepReplies`: the reply kept under `key` now, without a promise; undefined when none is. */
  keptReply?(key: string): Buffer | undefined;
}

export interface DnsLogger {
  warn(obj: unknown, msg?: string): void;
}
