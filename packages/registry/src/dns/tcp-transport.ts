import { createServer, type Socket } from 'node:net';
import type { DnsLimits } from './limits.js';
import { FrameReader } from './tcp-frames.js';
import type { TcpResponder } from './transfer.js';
import type { Listening } from './udp-transport.js';
import type { DnsLogger } from './zone-source.js';

const MAX_CONNECTIONS = 1024;
/** Queries read ahead on one connection before reading pauses. */
const MAX_QUEUED_QUERIES = 16;

type TcpLimits = Pick<DnsLimits, 'tcpLifetimeMs' | 'tcpIdleMs' | 'tcpPerAddress'>;

export function listenTcp(host: string, port: number, respond: TcpResponder, logger: DnsLogger, limits: TcpLimits): Promise<Listening> {
  const connections = new Set<Socket>();
  const perAddress = new Map<string, number>();
  const server = createServer((socket) => {
    const address = socket.remoteAddress ?? '';
    const open = perAddress.get(address) ?? 0;
    // One address holding every slot would shut everyone else out of TCP, the fallback of truncation.
    if (open >= limits.tcpPerAddress) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    perAddress.set(address, open + 1);
    connections.add(socket);
    socket.once('close', () => {
      connections.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    serveConnection(socket, address, respond, limits);
  });
  server.maxConnections = MAX_CONNECTIONS;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      server.on('error', (error) => logger.warn({ err: error }, 'service DNS TCP server error'));
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of connections) socket.destroy();
          }),
      });
    });
  });
}

/** Reads 2-byte length-prefixed messages (RFC 1035 §4.2.2) and answers them in order (a transfer: several messages). */
function serveConnection(socket: Socket, address: string, respond: TcpResponder, limits: TcpLimits): void {
  const frames = new FrameReader();
  const queue: Buffer[] = [];
  let answering = false;

  socket.setNoDelay(true);
  // Two timers, neither reset by a byte alone: a client trickling one byte at a time would
  // otherwise hold its connection for ever. Idle counts from the last whole query or reply.
  const lifetime = setTimeout(() => socket.destroy(), limits.tcpLifetimeMs);
  // While the server works on a reply (a zone transfer may take seconds) the client is not idle.
  const idle = setTimeout(() => (answering ? idle.refresh() : socket.destroy()), limits.tcpIdleMs);
  lifetime.unref();
  idle.unref();
  socket.once('close', () => {
    clearTimeout(lifetime);
    clearTimeout(idle);
  });
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    const messages = frames.push(chunk);
    if (messages.length === 0) return;
    idle.refresh();
    for (const message of messages) queue.push(message);
    if (queue.length >= MAX_QUEUED_QUERIES) socket.pause();
    void answerQueue();
  });

  async function answerQueue(): Promise<void> {
    if (answering) return;
    answering = true;
    for (let message = queue.shift(); message && !socket.destroyed; message = queue.shift()) {
      for (const reply of await respond(message, address)) {
        if (!socket.writable) break;
        const frame = Buffer.alloc(2 + reply.length);
        frame.writeUInt16BE(reply.length, 0);
        reply.copy(frame, 2);
        if (!socket.write(frame)) await drained(socket);
        idle.refresh();
      }
      if (socket.isPaused() && queue.length < MAX_QUEUED_QUERIES / 2) socket.resume();
    }
    answering = false;
  }
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
