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
