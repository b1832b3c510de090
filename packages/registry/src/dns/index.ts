export { startDnsServer } from './server.js';
export type { DnsInstance, DnsZoneSource } from './zone-source.js';
