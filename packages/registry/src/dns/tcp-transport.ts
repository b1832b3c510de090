import { createServer, type Socket } from 'node:net';
import type { Responder } from './responder.js';
import { FrameReader } from './tcp-frames.js';
import type { Listening } from './udp-transport.js';
import type { DnsLogger } from './zone-source.js';

/** RFC 7766 §6.2.3: idle connections are closed after a few seconds. */
const TCP_IDLE_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 1024;
/** Queries read ahead on one connection before reading pauses. */
const MAX_QUEUED_QUERIES = 16;

export function listenTcp(host: string, port: number, respond: Responder, logger: DnsLogger): Promise<Listening> {
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    serveConnection(socket, respond);
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

/** Reads 2-byte length-prefixed messages (RFC 1035 §4.2.2) and answers them in order. */
function serveConnection(socket: Socket, respond: Responder): void {
  const frames = new FrameReader();
  const queue: Buffer[] = [];
  let answering = false;

  socket.setNoDelay(true);
  socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    for (const message of frames.push(chunk)) queue.push(message);
    if (queue.length >= MAX_QUEUED_QUERIES) socket.pause();
    void answerQueue();
  });

  async function answerQueue(): Promise<void> {
    if (answering) return;
    answering = true;
    for (let message = queue.shift(); message && !socket.destroyed; message = queue.shift()) {
      const reply = await respond(message, 'tcp');
      if (reply && socket.writable) {
        const frame = Buffer.alloc(2 + reply.length);
        frame.writeUInt16BE(reply.length, 0);
        reply.copy(frame, 2);
        if (!socket.write(frame)) await drained(socket);
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
