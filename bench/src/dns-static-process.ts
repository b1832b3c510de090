// A DNS server that answers every query with one fixed SRV record, built on the same packet
// library as the registry's: the baseline for Service DNS queries per second.
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

const socket = createSocket('udp4');
const replies = new Map<string, Buffer>();
socket.on('message', (message, remote) => {
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return;
  }
  const question = query.questions?.[0];
  if (!question) return;
  // Encoded once per question and replayed with the query's ID, as the registry replays its
  // cached replies: the two sides do the same work per query.
  const key = `${question.type} ${question.name}`;
  let encoded = replies.get(key);
  if (!encoded) {
    encoded = dnsPacket.encode({
      id: 0,
      type: 'response',
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [question],
      answers: [{ type: 'SRV', name: question.name, ttl: 5, data: { priority: 0, weight: 0, port: 7410, target: '127.0.0.1' } }],
    });
    if (replies.size < 10_000) replies.set(key, encoded);
  }
  const answer = Buffer.from(encoded);
  answer.writeUInt16BE(query.id ?? 0, 0);
  socket.send(answer, remote.port, remote.address);
});
socket.bind(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: socket.address().port })}\n`);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
