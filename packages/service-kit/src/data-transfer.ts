import { createHash } from 'node:crypto';
import {
  CatalogAnswer,
  type CatalogEntry,
  canonicalJson,
  errorFromBody,
  parseAnswer,
  SwarmError,
  type TransferSummary,
} from '@swarm/protocol';
import { getJson } from '@swarm/runtime';
import type { BoundDomain, TransferLimits } from './domain.js';
import type { Instance, InstanceInfo } from './instances.js';
import type { Kit } from './kit.js';

/*
 * What both ends of a move share (docs/DATA-TRANSFER.md): page sizes, the digest of an
 * instance's data, the catalog entry of the provider at the other end, and the instance checks.
 */

/** Records per page while a digest is computed (no bulk bytes then). */
const DIGEST_PAGE_ITEMS = 1000;
/** How long an owner's `instance_move` opens the old instance's data to the provider it names, counted from its first page. */
export const MOVE_GRANT_SECONDS = 24 * 60 * 60;

export type BoundTransfer = NonNullable<BoundDomain['transfer']>;

export function transferOf(kit: Kit): BoundTransfer {
  const transfer = kit.domain.transfer;
  if (!transfer) throw new SwarmError('invalid_request', `${kit.config.serviceType} instances cannot move their data`);
  return transfer;
}

/**
 * The count and SHA-256 of an instance's export records (`withData: false`), in export order,
 * each as its JCS text and a newline. Both providers compute it with the same code over their
 * own instance, page by page, so memory stays bounded however large the instance is.
 */
export async function summarize(transfer: BoundTransfer, instance: InstanceInfo): Promise<TransferSummary> {
  const hash = createHash('sha256');
  let items = 0;
  let cursor: string | null = null;
  const limits: TransferLimits = { maxItems: DIGEST_PAGE_ITEMS, maxBytes: Number.MAX_SAFE_INTEGER, withData: false };
  do {
    const page = await transfer.exportPage(instance, cursor, limits);
    for (const item of page.items) hash.update(`${canonicalJson(item)}\n`);
    items += page.items.length;
    cursor = page.next;
  } while (cursor !== null);
  return { items, digest: hash.digest('hex') };
}

/** An instance of this app that serves: `not_found`, `gone`, or `conflict` while it is still binding. */
export async function servingInstance(kit: Kit, serviceId: string, appId: string): Promise<Instance> {
  const instance = await kit.instances.get(serviceId);
  if (!instance || instance.appId !== appId || instance.status === 'failed' || instance.wiped) {
    throw new SwarmError('not_found', 'no such instance');
  }
  if (instance.terminated || instance.status === 'revoked') throw new SwarmError('gone', 'this instance no longer serves');
  if (instance.status !== 'active') throw new SwarmError('conflict', 'the instance is still binding');
  return instance;
}

/**
 * The catalog entry of `provider` as the app's registry lists it, of this service's type
 * (`unknown_provider` otherwise). Its `public_key` is the key the provider signs pages with.
 */
export async function peerOffer(kit: Kit, appId: string, provider: string): Promise<CatalogEntry> {
  const registry = kit.trusted.forApp(appId);
  const url = `${registry.baseUrl}/v1/catalog/${encodeURIComponent(kit.config.serviceType)}`;
  const { status, body } = await getJson(url, { timeoutMs: 5000 });
  if (status === 404) throw new SwarmError('unknown_provider', `${provider} offers no ${kit.config.serviceType}`);
  if (status !== 200) {
    const error = errorFromBody(body);
    if (error && status < 500) throw error;
    throw new SwarmError('registry_unavailable', `registry ${registry.authority} answered ${status}`);
  }
  const entry = parseAnswer(CatalogAnswer, body, `registry ${registry.authority}`).services.find((e) => e.provider === provider);
  if (!entry || entry.service_type !== kit.config.serviceType) {
    throw new SwarmError('unknown_provider', `${provider} offers no ${kit.config.serviceType} in the catalog`);
  }
  return entry;
}
