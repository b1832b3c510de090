export type { AddressTargets } from './instance-records.js';
export { DEFAULT_DNS_LIMITS, type DnsLimits } from './limits.js';
export { parseNameServers } from './name-servers.js';
export { startDnsServer } from './server.js';
export type { NameServer } from './zone.js';
export type { DnsInstance, DnsZoneSource, MovedZone } from './zone-source.js';
