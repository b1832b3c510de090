import { randomInt } from 'node:crypto';
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
 * A second provider of each domain service type, so an instance can be moved between providers
 * on one machine (`swarm move`, docs/DATA-TRANSFER.md): its provider name and `swarm up` port.
 */
export const SECOND_PROVIDERS = {
  'cms-article': { provider: 'article2.cms.local', port: 7420 },
  'crm-contact': { provider: 'contact2.crm.local', port: 7421 },
  'storage-blob': { provider: 'blob2.storage.local', port: 7422 },
} as const;

/*
 * Ports are picked below Linux's ephemeral range (32768–60999), where the kernel hands out ports
 * for `listen(0)` and for the source side of outbound connections: a port picked there could be
 * taken by another process before our part listens on it (seen as EADDRINUSE under load).
 */
const PICK_FROM = 20_000;
const PICK_TO = 32_000;

/**
 * A port that is free right now on `host`. Parts of a network must know each other's URLs
 * before they all listen (the registry names Billing and Logging in every context), so the
 * ports are picked first, at random below the kernel's ephemeral range.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return freePortRun(1, host);
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
  for (let attempt = 0; attempt < 1000; attempt++) {
    const base = PICK_FROM + randomInt(PICK_TO - PICK_FROM - count);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await canListen(base + i, host);
    if (free) return base;
  }
  throw new Error(`no run of ${count} free ports between ${PICK_FROM} and ${PICK_TO} on ${host}`);
}
