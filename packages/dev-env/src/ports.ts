import { createServer } from 'node:net';

export const LOCAL_AUTHORITY = 'swarm.local';

/** SPEC §13: where each part of `swarm up` listens. */
export const STANDARD_PORTS = {
  registry: 7400,
  dns: 7453,
  auth: 7401,
  billing: 7402,
  logging: 7403,
  'cms-article': 7410,
  'crm-contact': 7411,
  'storage-blob': 7412,
} as const;

export type PartName = keyof typeof STANDARD_PORTS;

/**
 * A port that is free right now on `host`. Parts of a network must know each other's URLs
 * before they all listen (the registry names Billing and Logging in every context), so the
 * ports are picked first; the short race with other processes is acceptable for tests.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const canListen = (port: number, host: string) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });

/** A port with the next `count - 1` free too (`swarm backbone` takes three in a row). */
export async function freePortRun(count: number, host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await canListen(base + i, host);
    if (free) return base;
  }
}
