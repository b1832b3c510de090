import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { appDnsZone } from '@swarm/protocol';
import * as packet from 'dns-packet';

/** What an app's Service DNS publishes for one service type. */
export interface DnsView {
  srv: Array<{ target: string; port: number }>;
  /** The `service_id=` of each TXT record: one per published instance. */
  serviceIds: string[];
}

/** A decoded reply; dns-packet sets `rcode` (`NOERROR`, `NXDOMAIN`, …) but its types leave it out. */
export type DnsReply = packet.DecodedPacket & { rcode: string };

/** One DNS question to a registry's Service DNS, over UDP or TCP. */
export function queryDns(port: number, name: string, type: packet.RecordType, transport: 'udp' | 'tcp' = 'udp'): Promise<DnsReply> {
  const query = packet.encode({
    type: 'query',
    id: Math.floor(Math.random() * 65_535),
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  });
  return transport === 'udp' ? overUdp(port, query) : overTcp(port, query);
}

function overUdp(port: number, query: Buffer): Promise<DnsReply> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no DNS answer on udp ${port}`));
    }, 5000);
    socket.once('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(packet.decode(message) as DnsReply);
    });
    socket.send(query, port, '127.0.0.1');
  });
}

function overTcp(port: number, query: Buffer): Promise<DnsReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(new Error(`no DNS answer on tcp ${port}`)), 5000);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(query.length);
    socket.once('connect', () => socket.write(Buffer.concat([length, query])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.end();
        resolve(packet.decode(received.subarray(2)) as DnsReply);
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * An app's instances of `serviceType` as its Service DNS publishes them (SRV and TXT of
 * `_<type>._tcp.<zone>`), read over `transport`: TCP brings a large zone whole.
 */
export async function dnsView(dnsPort: number, appId: string, serviceType: string, transport: 'udp' | 'tcp' = 'tcp'): Promise<DnsView> {
  const name = `_${serviceType}._tcp.${appDnsZone(appId)}`.replace(/\.$/, '');
  const [srv, txt] = await Promise.all([ask(dnsPort, name, 'SRV', transport), ask(dnsPort, name, 'TXT', transport)]);
  // No instance of the type yet: the name does not exist.
  if (srv.rcode === 'NXDOMAIN' && txt.rcode === 'NXDOMAIN') return { srv: [], serviceIds: [] };
  for (const answer of [srv, txt]) if (answer.rcode !== 'NOERROR') throw new Error(`${name}: ${answer.rcode}`);
  return {
    srv: (srv.answers ?? [])
      .filter((a): a is packet.SrvAnswer => a.type === 'SRV')
      .map((a) => ({ target: a.data.target, port: a.data.port })),
    serviceIds: (txt.answers ?? [])
      .filter((a): a is packet.TxtAnswer => a.type === 'TXT')
      .map((a) => txtField(a.data, 'service_id'))
      .filter((id): id is string => id !== undefined),
  };
}

/** Like a stock resolver: UDP first, the whole answer over TCP when UDP comes back truncated. */
async function ask(port: number, name: string, type: packet.RecordType, transport: 'udp' | 'tcp'): Promise<DnsReply> {
  const answer = await queryDns(port, name, type, transport);
  return transport === 'udp' && answer.flag_tc ? queryDns(port, name, type, 'tcp') : answer;
}

function txtField(data: packet.TxtData, key: string): string | undefined {
  const strings = (Array.isArray(data) ? data : [data]).map((s) => (Buffer.isBuffer(s) ? s.toString('utf8') : String(s)));
  return strings.find((s) => s.startsWith(`${key}=`))?.slice(key.length + 1);
}
