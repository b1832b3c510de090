import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
/** HTTP for tests: any status, any body (a string is sent as is, to send malformed input). */

export interface JsonAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely
  body: any;
}

/** One HTTP exchange; `body` may be a raw string to send malformed input. */
export async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

export const post = (url: string, body: unknown, headers?: Record<string, string>) => call('POST', url, body, headers);
export const get = (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers);
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * A receiver that accepts connections and never answers (the worst peer there is): `url` is its
 * origin. Closing destroys the connections it holds.
 */
export async function blackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A receiver answering `status` (changeable) with `{}` to every request, counting them in `hits`. */
export async function statusReceiver(status: number): Promise<{ url: string; status: number; hits: number; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const state = { url: '', status, hits: 0, close: async () => {} };
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      state.hits += 1;
      response.writeHead(state.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.close = () => new Promise((resolve) => server.close(() => resolve()));
  return state;
}

/** A receiver that counts connections and requests (`METHOD path`) and answers with `answer`. */
export interface CountingServer {
  url: string;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

export async function startCountingServer(
  answer: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.writeHead(202).end('{}'),
): Promise<CountingServer> {
  const server = createServer((request, response) => {
    counting.requests.push(`${request.method} ${request.url}`);
    request.resume();
    request.on('end', () => answer(request, response));
  });
  const counting: CountingServer = {
    url: '',
    connections: 0,
    requests: [],
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => counting.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  counting.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return counting;
}

/** A gzip body of `mebibytes` MiB of zeros, about 1 KB on the wire per MiB (gzip members concatenated). */
export function gzipBomb(mebibytes: number): Buffer {
  const member = gzipSync(Buffer.alloc(1024 * 1024));
  return Buffer.concat(Array.from({ length: mebibytes }, () => member));
}

/** Answers `500` with a gzip bomb of `mebibytes`, whatever was asked. */
export function answerGzipBomb(mebibytes: number): (request: IncomingMessage, response: ServerResponse) => void {
  const bomb = gzipBomb(mebibytes);
  return (_request, response) => {
    response.writeHead(500, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length });
    response.end(bomb);
  };
}

/** The highest `arrayBuffers` (where response bodies live) while `work` runs, sampled every few ms. */
export async function peakArrayBuffers(work: () => Promise<void>): Promise<number> {
  let peak = process.memoryUsage().arrayBuffers;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 2);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return peak;
}
