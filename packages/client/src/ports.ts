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
 * A port that is free right now on `host`. Parts of an ephemeral swarm must know each other's
 * URLs before they all listen (the registry names Billing and Logging in every context), so the
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
