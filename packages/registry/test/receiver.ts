import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BroadcastData, MemoryReplayStore, TrustedRegistries } from '@swarm/protocol';
import { verifyBroadcast } from '@swarm/runtime';

export interface Delivery {
  path: string;
  data: BroadcastData;
}

/**
 * A small broadcast receiver: verifies each POST with runtime's verifyBroadcast against the
 * registry it trusts, records what it accepted, and can refuse the first few deliveries.
 */
export class BroadcastReceiver {
  readonly deliveries: Delivery[] = [];
  readonly refused: string[] = [];
  failNext = 0;
  #server: Server;
  #trusted: TrustedRegistries | null = null;
  /** One replay store per path: each path stands for a separate receiving service. */
  #replay = new Map<string, MemoryReplayStore>();
  url = '';

  constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void this.#handle(request.url ?? '/', Buffer.concat(chunks).toString('utf8')).then((status) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end('{}');
        });
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  trust(authority: string, baseUrl: string, publicKey: string): void {
    this.#trusted = new TrustedRegistries([{ authority, baseUrl, publicKey }]);
  }

  async #handle(path: string, text: string): Promise<number> {
    if (this.failNext > 0) {
      this.failNext--;
      this.refused.push(path);
      return 503;
    }
    if (!this.#trusted) return 503;
    try {
      const replay = this.#replay.get(path) ?? new MemoryReplayStore();
      this.#replay.set(path, replay);
      const data = await verifyBroadcast(this.#trusted, JSON.parse(text), replay);
      if (data) this.deliveries.push({ path, data });
      return 200;
    } catch {
      this.refused.push(path);
      return 400;
    }
  }

  /** Waits until `predicate` holds for the deliveries so far. */
  async waitFor(predicate: (deliveries: Delivery[]) => boolean, timeoutMs = 5000): Promise<Delivery[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.deliveries)) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.deliveries.map((d) => [d.path, d.data.event]))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return this.deliveries;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
