import type { RegistryInfo } from '@swarm/protocol';
import type { FastifyInstance } from 'fastify';
import type { RegistryContext } from '../context.js';

export function wellKnownRoutes(app: FastifyInstance, ctx: RegistryContext): void {
  app.get(
    '/.well-known/swarm-registry',
    async (): Promise<RegistryInfo> => ({
      authority: ctx.authority,
      public_key: ctx.registryKey.publicKey,
      version: '1.0',
      dns_port: ctx.dnsPort,
    }),
  );
}
