import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from './http.js';

export interface Received {
  path: string;
  body: Json;
  at: number;
}

/** What the receiver answers to one request (default `202 { accepted: true }`). */
export type Judge = (received: Received) => Promise<{ status: number; body: unknown }> | { status: number; body: unknown };

/** A small HTTP server of the test's own that records every POST it receives. */
export class Receiver {
  readonly received: Received[] = [];
  url = '';
  private server: Server | null = null;

  constructor(private judge: Judge = () => ({ status: 202, body: { accepted: true } })) {}

  async start(): Promise<this> {
    this.server = createServer(async (request, response) => {
      const received: Received = { path: request.url ?? '', body: parse(await readAll(request)), at: Date.now() };
      this.received.push(received);
      const { status, body } = await this.judge(received);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): Received[] {
    return this.received.filter((item) => item.path === path);
  }

  async waitFor(predicate: (items: Received[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > until) throw new Error(`receiver ${this.url}: condition not met within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

async function readAll(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parse(text: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
