import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

/** One DNS question over UDP to a server on this machine; the decoded reply (2 s at most). */
export async function queryDns(port: number, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.Packet> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return await new Promise<dnsPacket.Packet>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS reply for ${name} ${type}`)), 2000);
      socket.once('message', (message) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(message));
      });
      socket.send(
        dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }),
        port,
        '127.0.0.1',
      );
    });
  } finally {
    socket.close();
  }
}
