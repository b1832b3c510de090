import {
  type CatalogAnswer,
  type CatalogEntry,
  nowSeconds,
  Offer,
  ProviderName,
  parseMessage,
  requireSignature,
  ServiceType,
  SwarmError,
} from '@swarm/protocol';
import { isUniqueViolation, jsonBody } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { consumeNonce, requireAdmin, requireFresh, requireSame } from '../checks.js';
import type { RegistryContext } from '../context.js';
import { findProvider, insertProvider, listCatalog, updateProvider } from '../storage/catalog.js';

function checkTiers(entry: CatalogEntry): void {
  const names = new Set<string>();
  for (const tier of entry.tiers) {
    if (names.has(tier.name)) throw new SwarmError('invalid_request', `tier ${tier.name} is listed twice`);
    names.add(tier.name);
    if (tier.storage_limit_gb_default > tier.storage_limit_gb_max) {
      throw new SwarmError('invalid_request', `tier ${tier.name}: the default storage is over the maximum`);
    }
  }
  if (new Set(entry.regions).size !== entry.regions.length) throw new SwarmError('invalid_request', 'a region is listed twice');
}

export function catalogRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get('/v1/catalog', async (): Promise<CatalogAnswer> => ({ services: await listCatalog(ctx.db) }));

  app.get<{ Params: { service_type: string } }>('/v1/catalog/:service_type', async (request): Promise<CatalogAnswer> => {
    const type = ServiceType.safeParse(request.params.service_type);
    if (!type.success) throw new SwarmError('invalid_request', 'service_type must match [a-z][a-z0-9-]{1,62}');
    return { services: await listCatalog(ctx.db, type.data) };
  });

  /**
   * A provider's offer: the first one needs the admin token and must be signed by the key it
   * offers; later ones are signed by the stored key (which may hand over to a new one).
   */
  app.put<{ Params: { provider: string } }>('/v1/catalog/:provider', async (request, reply) => {
    const provider = ProviderName.safeParse(request.params.provider);
    if (!provider.success) throw new SwarmError('invalid_request', 'provider must be a DNS name');
    const offer = parseMessage(Offer, jsonBody(request));
    const { timestamp, nonce, ...entry } = offer.data;
    requireSame('provider', entry.provider, provider.data);
    checkTiers(entry);
    requireFresh(ctx, timestamp);
    const now = nowSeconds();
    const existing = await findProvider(ctx.db, entry.provider);
    if (!existing) {
      requireAdmin(ctx, request);
      requireSignature('offer', offer.data, offer.signature, entry.public_key);
      await consumeNonce(ctx, entry.public_key, { nonce, timestamp });
      try {
        await insertProvider(ctx.db, entry, now);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Two first offers raced (replicas of one provider starting together, through two
        // registry replicas): the later one is an update when the winner holds the same key.
        const winner = await findProvider(ctx.db, entry.provider);
        const sameProvider = winner?.entry.public_key === entry.public_key && winner.entry.service_type === entry.service_type;
        if (!sameProvider || !(await updateProvider(ctx.db, entry, entry.public_key, now))) {
          throw new SwarmError('conflict', `provider ${entry.provider} was registered meanwhile`);
        }
        return entry;
      }
      reply.code(201);
      return entry;
    }
    const storedKey = existing.entry.public_key;
    requireSignature('offer', offer.data, offer.signature, storedKey);
    if (entry.service_type !== existing.entry.service_type) {
      throw new SwarmError(
        'conflict',
        `provider ${entry.provider} offers ${existing.entry.service_type}; a provider offers one service_type`,
      );
    }
    await consumeNonce(ctx, storedKey, { nonce, timestamp });
    if (!(await updateProvider(ctx.db, entry, storedKey, now))) throw new SwarmError('conflict', 'the provider key changed meanwhile');
    return entry;
  });
}
