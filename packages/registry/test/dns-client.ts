import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

/** One DNS question over UDP to a server on this machine; the decoded reply (2 s at most). */
export async function queryDns(
  port: number,
  name: string,
  type: dnsPacket.RecordType,
  options: { dnssecOk?: boolean } = {},
): Promise<dnsPacket.DecodedPacket> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS reply for ${name} ${type}`)), 2000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(message));
      });
      // DO set: a validating resolver then says AD, and a signed zone sends its signatures.
      const edns: dnsPacket.Answer[] = options.dnssecOk
        ? [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: 1232,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: dnsPacket.DNSSEC_OK,
              flag_do: true,
              options: [],
            },
          ]
        : [];
      const query = dnsPacket.encode({
        id: 7,
        type: 'query',
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type, name }],
        additionals: edns,
      });
      socket.send(query, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}
