import { appDnsZone, migratedZone, nowSeconds } from '@swarm/protocol';
import { type DnsInstance, type MovedZone, ZoneVersion } from './dns/index.js';
import { LookupCache, type LookupCacheSource, SHARED_GROUP } from './lookup-cache.js';

/** Hit/miss counters per cache (the registry's metrics). */
export interface LookupObservers {
  http: (hit: boolean) => void;
  dns: (hit: boolean) => void;
  dnsReplies: (hit: boolean) => void;
}

/**
 * The registry's Service DNS answers and who drops them. The HTTP answers are grouped by app_id,
 * the DNS instance lists and encoded replies by the app's zone; `changed(appId)` drops one app's
 * answers (after a commit of this process, or a change another replica announced), nothing else.
 */
export class AppLookups {
  readonly http: LookupCache<string>;
  readonly dns: LookupCache<DnsInstance[] | MovedZone | null>;
  readonly dnsReplies: LookupCache<Buffer | null>;
  /** Each app's config_epoch (or a mark for a released app), for the beats' answers: kept until the app changes. */
  readonly epochs: LookupCache<number>;
  /** The Service DNS zone's SOA serial: moved by every change dropped here. */
  readonly version = new ZoneVersion(nowSeconds());
  readonly #authority: string[];

  constructor(source: LookupCacheSource | null, maxEntries: number, authority: string, observe?: LookupObservers) {
    const kept = maxEntries > 0 ? source : null;
    this.http = new LookupCache<string>(kept, { maxEntries, sizeOf: (json) => json.length, ...(observe ? { observe: observe.http } : {}) });
    // An instance is a few hundred bytes of strings.
    this.dns = new LookupCache<DnsInstance[] | MovedZone | null>(kept, {
      maxEntries,
      sizeOf: (instances) => (Array.isArray(instances) ? 512 * instances.length : 512),
      ...(observe ? { observe: observe.dns } : {}),
    });
    this.dnsReplies = new LookupCache<Buffer | null>(kept, {
      maxEntries,
      sizeOf: (reply) => reply?.length ?? 0,
      ...(observe ? { observe: observe.dnsReplies } : {}),
    });
    this.epochs = new LookupCache<number>(kept, { maxEntries, sizeOf: () => 64 });
    this.#authority = authority.toLowerCase().split('.');
  }

  /** Anything of the app changed: its listing, its instance list, its replies. */
  changed(appId: string): void {
    const zone = zoneOf(appId);
    this.version.changed(nowSeconds());
    this.http.invalidate(appId);
    this.epochs.invalidate(appId);
    this.dns.invalidate(zone);
    this.dnsReplies.invalidate(zone);
    // An app that moved here from another registry is served under this authority's labels.
    const here = migratedZone(appId, this.#authority.join('.'));
    if (here !== zone) {
      this.dns.invalidate(here);
      this.dnsReplies.invalidate(here);
    }
  }

  /**
   * A beat changes the answers only when it brings an instance back; any other beat leaves them
   * (a listing's `last_heartbeat_at` is at most one interval old: kept-until.ts).
   */
  beaten(appId: string, cameBack: boolean): void {
    if (cameBack) this.changed(appId);
  }

  clear(): void {
    this.version.changed(nowSeconds());
    this.http.clear();
    this.epochs.clear();
    this.dns.clear();
    this.dnsReplies.clear();
  }

  /**
   * The group of a kept reply, from its key (a UDP query without its ID): the app zone its
   * question names (the last five labels inside the authority), or the shared group for names
   * that are no app's and for anything unusual (compression, a short name).
   */
  replyGroup(key: string): string {
    const labels: string[] = [];
    // Key offset 10: after flags and the four counts.
    let at = 10;
    while (at < key.length) {
      const length = key.charCodeAt(at);
      if (length === 0) break;
      if (length > 63 || labels.length > 127) return SHARED_GROUP;
      labels.push(key.slice(at + 1, at + 1 + length).toLowerCase());
      at += 1 + length;
    }
    const depth = this.#authority.length + 3;
    if (labels.length < depth) return SHARED_GROUP;
    const zone = labels.slice(-depth);
    return this.#authority.every((label, index) => zone[3 + index] === label) ? zone.join('.') : SHARED_GROUP;
  }
}

/** The zone an app's DNS answers are grouped under (as the DNS server names it: lowercase, no trailing dot). */
export function zoneOf(appId: string): string {
  return appDnsZone(appId).slice(0, -1).toLowerCase();
}
