import { connect } from 'node:net';
import { type DsRecord, dsRecord, RegistryInfo, SwarmError } from '@swarm/protocol';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { type ClientOptions, call } from './http.js';

/** What a parent zone publishes to delegate the registry's authority to it, signed. */
export interface DelegationRecords {
  authority: string;
  /** The DS of every key with the Secure Entry Point bit the registry publishes. */
  ds: DsRecord[];
  nameServers: string[];
  /** Addresses of name servers inside the authority (glue): [name, address]. */
  glue: Array<[string, string]>;
  /** The TTL the parent should give them: the registry's DNSKEY TTL. */
  ttl: number;
}

const SEP = 0x0001;
const DNS_TIMEOUT_MS = 5000;

/**
 * Asks the registry's own Service DNS (over TCP, so nothing is truncated) for its DNSKEY and NS
 * records and works out the DS records and glue a parent zone adds (docs/DNS.md, "Delegation").
 * `dns` (`host:port`) overrides where to ask: by default the registry's host and announced DNS port.
 *
 * @example
 * const records = await delegationRecords({ registry: 'http://127.0.0.1:7400' });
 * // records.ds[0] → { keyTag: 47367, algorithm: 15, digestType: 2, digest: '…' }
 */
export async function delegationRecords(client: ClientOptions, dns?: string): Promise<DelegationRecords> {
  const { body: info } = await call('GET', `${client.registry.replace(/\/+$/, '')}/.well-known/swarm-registry`, RegistryInfo);
  const [host, port] = dns ? splitHostPort(dns) : [new URL(client.registry).hostname.replace(/^\[(.*)\]$/, '$1'), info.dns_port];
  if (!port) throw new SwarmError('registry_unavailable', `the registry at ${client.registry} runs without Service DNS`);
  const keys = await ask(host, port, info.authority, 'DNSKEY');
  const dnskeys = (keys.answers ?? []).filter((record) => record.type === 'DNSKEY');
  if (dnskeys.length === 0) throw new SwarmError('registry_unavailable', `${info.authority} publishes no DNSKEY: its zone is not signed`);
  const ds = dnskeys.flatMap((record) => {
    const data = record.data as { flags: number; algorithm: number; key: Buffer };
    if (!(data.flags & SEP)) return [];
    const rdata = Buffer.concat([Buffer.from([data.flags >> 8, data.flags & 0xff, 3, data.algorithm]), data.key]);
    return [dsRecord(info.authority, rdata)];
  });
  const ns = await ask(host, port, info.authority, 'NS');
  const nameServers = (ns.answers ?? []).filter((record) => record.type === 'NS').map((record) => (record as { data: string }).data);
  const glue = (ns.additionals ?? [])
    .filter((record): record is Answer & { data: string } => record.type === 'A' || record.type === 'AAAA')
    .map((record): [string, string] => [record.name, record.data]);
  return { authority: info.authority, ds, nameServers, glue, ttl: dnskeys[0]?.ttl ?? 3600 };
}

/** The records as zone file lines for the parent. */
export function delegationZoneLines(records: DelegationRecords): string[] {
  const owner = `${records.authority}.`;
  return [
    ...records.nameServers.map((name) => `${owner} ${records.ttl} IN NS ${name}.`),
    ...records.glue.map(([name, address]) => `${name}. ${records.ttl} IN ${address.includes(':') ? 'AAAA' : 'A'} ${address}`),
    ...records.ds.map((ds) => `${owner} ${records.ttl} IN DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest}`),
  ];
}

function splitHostPort(text: string): [string, number] {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new SwarmError('invalid_request', `--dns ${JSON.stringify(text)} is not host:port`);
  return [match[1], port];
}

/** One query over TCP (RFC 1035 §4.2.2: a two-byte length before each message). */
function ask(host: string, port: number, name: string, type: RecordType): Promise<DecodedPacket> {
  const query = dnsPacket.streamEncode({
    type: 'query',
    id: Math.floor(Math.random() * 65536),
    questions: [{ name, type }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as Answer],
  });
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const fail = (message: string) => {
      socket.destroy();
      reject(new SwarmError('registry_unavailable', `Service DNS at ${host}:${port}: ${message}`));
    };
    socket.setTimeout(DNS_TIMEOUT_MS, () => fail('no answer'));
    socket.on('error', (error) => fail(error.message));
    socket.on('connect', () => socket.write(query));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      socket.end();
      try {
        const reply = dnsPacket.streamDecode(received) as DecodedPacket;
        const rcode = (reply as { rcode?: string }).rcode;
        if (rcode !== 'NOERROR') return fail(`${name} ${type} answered ${rcode}`);
        resolve(reply);
      } catch {
        fail('an answer that is not DNS');
      }
    });
  });
}
