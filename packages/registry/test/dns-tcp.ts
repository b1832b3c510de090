import { once } from 'node:events';
import { connect } from 'node:net';
import { FrameReader } from '../src/dns/tcp-frames.js';

/** A DNS message with its 2-byte length in front, as sent over TCP (RFC 1035 §4.2.2). */
export function frame(message: Uint8Array): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** A TCP connection to a DNS server: messages out framed, replies in as whole messages. */
export async function openDnsTcp(host: string, port: number) {
  const socket = connect({ host, port });
  await once(socket, 'connect');
  const reader = new FrameReader();
  const replies: Buffer[] = [];
  const waiting: ((message: Buffer) => void)[] = [];
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    for (const message of reader.push(chunk)) {
      const waiter = waiting.shift();
      if (waiter) waiter(message);
      else replies.push(message);
    }
  });
  return {
    socket,
    closed: once(socket, 'close'),
    send(message: Uint8Array) {
      socket.write(frame(message));
    },
    next(timeoutMs = 2000): Promise<Buffer> {
      const ready = replies.shift();
      if (ready) return Promise.resolve(ready);
      return Promise.race([
        new Promise<Buffer>((resolve) => waiting.push(resolve)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no TCP reply')), timeoutMs).unref()),
      ]);
    },
    close: () => socket.destroy(),
  };
}
