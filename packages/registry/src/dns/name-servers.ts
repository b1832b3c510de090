import { isIP } from 'node:net';
import { SwarmError } from '@swarm/protocol';
import type { NameServer } from './zone.js';

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_NAME_SERVERS = 16;

/**
 * `ns1.example.org=192.0.2.1,ns1.example.org=2001:db8::1,ns2.example.net`: the zone's name servers
 * (`--dns-ns`, SWARM_DNS_NS). A name may repeat to give more addresses; one without `=` has none (a
 * name outside the authority, whose addresses its own zone publishes). Order is kept: the first is
 * the SOA's primary. Anything else is `invalid_request`.
 */
export function parseNameServers(text: string): NameServer[] {
  const servers = new Map<string, NameServer>();
  for (const entry of text.split(',')) {
    const item = entry.trim();
    if (item === '') continue;
    const at = item.indexOf('=');
    const name = (at < 0 ? item : item.slice(0, at)).toLowerCase().replace(/\.$/, '');
    const address = at < 0 ? null : item.slice(at + 1).replace(/^\[(.*)\]$/, '$1');
    if (!isHostName(name)) throw new SwarmError('invalid_request', `--dns-ns: ${JSON.stringify(name)} is not a host name`);
    if (address !== null && isIP(address) === 0)
      throw new SwarmError('invalid_request', `--dns-ns: ${JSON.stringify(address)} is not an IPv4 or IPv6 address`);
    const server = servers.get(name) ?? { name, addresses: [] };
    if (address !== null && !server.addresses.includes(address)) server.addresses.push(address);
    servers.set(name, server);
  }
  if (servers.size === 0) throw new SwarmError('invalid_request', '--dns-ns names no name server');
  if (servers.size > MAX_NAME_SERVERS) throw new SwarmError('invalid_request', `--dns-ns names more than ${MAX_NAME_SERVERS} name servers`);
  return [...servers.values()];
}

function isHostName(name: string): boolean {
  const labels = name.split('.');
  return name.length <= 253 && labels.length >= 2 && labels.every((label) => HOST_LABEL.test(label));
}
