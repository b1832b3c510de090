/** One active, healthy service instance as Service DNS publishes it (SPEC §7). */
export interface DnsInstance {
  serviceType: string;
  serviceId: string;
  endpointUrl: string;
  publicKey: string;
  tier: string | null;
  region: string | null;
}

export interface DnsZoneSource {
  /** Active, healthy instances of the app whose zone is given (reversed app_id, no trailing dot, lowercase, e.g. '7f8a9d.business_app.alice.omiappreg.org'); null when no such app. */
  instancesForZone(zone: string): Promise<DnsInstance[] | null>;
}

export interface DnsLogger {
  warn(obj: unknown, msg?: string): void;
}
