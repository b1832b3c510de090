export { DEFAULT_DNS_LIMITS, type DnsLimits } from './limits.js';
export { startDnsServer } from './server.js';
export type { DnsInstance, DnsZoneSource } from './zone-source.js';
