export type { AddressTargets } from './instance-records.js';
export { DEFAULT_DNS_LIMITS, type DnsLimits } from './limits.js';
export { parseNameServers } from './name-servers.js';
export { startDnsServer } from './server.js';
export { parseTransferAllowList } from './transfer-acl.js';
export type { NameServer } from './zone.js';
export type { DnsAppZone, DnsInstance, DnsZoneSource, MovedZone } from './zone-source.js';
export { ZoneVersion } from './zone-version.js';
