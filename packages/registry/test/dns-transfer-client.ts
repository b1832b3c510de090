import { generateSigningKey } from '@swarm/protocol';
import type { Packet } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { type DnsInstance, startDnsServer } from '../src/dns/index.js';
import { openDnsTcp } from './dns-tcp.js';
import { type RawRecord, readRaw, TYPE } from './dnssec-check.js';

export interface Transfer {
  rcode: number;
  /** Every answer record of every message, in order: the SOA first and last for a whole zone. */
  records: RawRecord[];
  messages: number;
}

/** A transfer query (AXFR, or IXFR with the client's serial in the authority section, RFC 1995 §3). */
export function transferQuery(zone: string, type: 'AXFR' | 'IXFR', serial?: number): Buffer {
  const packet = {
    type: 'query',
    id: 4242,
    questions: [{ name: zone, type }],
    authorities:
      serial === undefined
        ? []
        : [
            {
              type: 'SOA',
              name: zone,
              ttl: 0,
              data: { mname: `ns1.${zone}`, rname: `hostmaster.${zone}`, serial, refresh: 0, retry: 0, expire: 0, minimum: 0 },
            },
          ],
  } as unknown as Packet;
  return dnsPacket.encode(packet);
}

/** Sends one transfer query over TCP and reads messages until the zone is complete (the second SOA) or refused. */
export async function transfer(port: number, message: Buffer): Promise<Transfer> {
  const connection = await openDnsTcp('127.0.0.1', port);
  try {
    connection.send(message);
    const records: RawRecord[] = [];
    for (let messages = 1; ; messages++) {
      const reply = readRaw(await connection.next(5000));
      if (reply.rcode !== 0) return { rcode: reply.rcode, records, messages };
      records.push(...reply.answers);
      const soas = records.filter((record) => record.type === TYPE.SOA).length;
      // A whole zone ends with its SOA again; an IXFR answered "up to date" is the SOA alone.
      if (soas >= 2 || (soas === 1 && records.length === 1 && messages === 1 && isIxfr(message))) return { rcode: 0, records, messages };
    }
  } finally {
    connection.close();
  }
}

function isIxfr(message: Buffer): boolean {
  return (dnsPacket.decode(message).questions?.[0]?.type as string) === 'IXFR';
}

/** The SOA serial of an SOA record's RDATA (the five numbers end it). */
export function soaSerial(record: RawRecord): number {
  return record.rdata.readUInt32BE(record.rdata.length - 20);
}

/**
 * A signed `swarm.local` Service DNS server on loopback answering from `zones` (app zone →
 * instances), transfers allowed to loopback, SRV targets inside the zone: the whole-zone tests' server.
 */
export function signedZoneServer(zones: Map<string, DnsInstance[]>) {
  return startDnsServer({
    host: '127.0.0.1',
    port: 0,
    authority: 'swarm.local',
    addressTargets: 'zone',
    allowTransfer: ['127.0.0.1'],
    dnssecKeys: [generateSigningKey().privateKey],
    source: {
      instancesForZone: async (zone) => zones.get(zone) ?? null,
      everyZone: async () => [...zones].map(([zone, instances]) => ({ zone, instances })),
    },
  });
}
