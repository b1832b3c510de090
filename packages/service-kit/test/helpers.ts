import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustedRegistryOf } from '@swarm/dev-env';
import { SwarmError } from '@swarm/protocol';
import { type RegistryHandle, type RegistryOptions, startRegistry } from '@swarm/registry';
import { jsonBody, LOOPBACK_CIDRS } from '@swarm/runtime';
import {
  type Domain,
  LOCAL_REGIONS,
  LOCAL_TIERS,
  needs,
  requestClaims,
  requestInstance,
  type ServiceHandle,
  type ServiceOptions,
  startService,
} from '../src/index.js';

interface NoteTables {
  notes: { service_id: string; id: string; text: string };
}

/** The smallest domain: notes per instance, enough to exercise everything the kit does. */
export const notesDomain: Domain<NoteTables> = {
  migrations: {
    '001_notes': {
      up: async (db) => {
        await db.schema
          .createTable('notes')
          .ifNotExists()
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('text', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('notes_pk', ['service_id', 'id'])
          .execute();
      },
    },
  },
  routes(scope, context) {
    const { db } = context;
    scope.post('/notes', needs('editor'), async (request, reply) => {
      const text = jsonBody(request).text;
      if (typeof text !== 'string') throw new SwarmError('invalid_request', 'text is required');
      const row = { service_id: requestInstance(request).serviceId, id: randomUUID(), text };
      await db.insertInto('notes').values(row).execute();
      reply.code(201).send({ id: row.id, text, sub: requestClaims(request).sub });
    });
    scope.get('/notes', needs('reader'), async (request) => ({
      notes: await db.selectFrom('notes').select(['id', 'text']).where('service_id', '=', requestInstance(request).serviceId).execute(),
    }));
    scope.delete('/notes', needs('admin'), async (request, reply) => {
      await db.deleteFrom('notes').where('service_id', '=', requestInstance(request).serviceId).execute();
      reply.code(204).send();
    });
    scope.get('/boom', needs('reader'), async () => {
      throw new Error('a domain bug');
    });
  },
  async wipe(instance, context) {
    await context.db.deleteFrom('notes').where('service_id', '=', instance.serviceId).execute();
  },
  async usage() {
    return { notes_gauge: 1 };
  },
};

export const PROVIDER = 'notes.kit.local';

export function tempDir(name: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `swarm-${name}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function startTestRegistry(dataDir: string, extra: RegistryOptions = {}): Promise<RegistryHandle> {
  return startRegistry({
    port: 0,
    dataDir,
    dnsPort: false,
    logLevel: false,
    heartbeatIntervalSeconds: 1,
    broadcastRetry: { initialMs: 100, maxMs: 500, pollMs: 100 },
    egress: { allow: LOOPBACK_CIDRS },
    ...extra,
  });
}

export function startNotes(registry: RegistryHandle, dataDir: string, extra: Partial<ServiceOptions> = {}): Promise<ServiceHandle> {
  return startService(
    {
      port: 0,
      provider: PROVIDER,
      serviceType: 'notes',
      tiers: LOCAL_TIERS,
      regions: LOCAL_REGIONS,
      trustedRegistries: [trustedRegistryOf(registry)],
      dataDir,
      heartbeatIntervalSeconds: 1,
      reportFlushSeconds: 1,
      bindingRetry: { initialMs: 100, maxMs: 400 },
      logLevel: false,
      egress: { allow: LOOPBACK_CIDRS },
      ...extra,
    },
    notesDomain,
  );
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    // A pooled connection to a restarted server may fail once; that is "not yet", not an error.
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function errorCode(body: unknown): string | undefined {
  return (body as { error?: { code?: string } } | null)?.error?.code;
}

/** A forwarding proxy in front of the registry that counts the paths asked for. */
export async function startCountingProxy(
  target: string,
): Promise<{ url: string; hits: (pattern: RegExp) => number; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const seen: string[] = [];
  const server = createServer(async (request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    try {
      const upstream = await fetch(`${target}${request.url}`, {
        method: request.method ?? 'GET',
        headers: { 'content-type': request.headers['content-type'] ?? 'application/json' },
        body: chunks.length > 0 ? Buffer.concat(chunks) : null,
      });
      response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      response.end(Buffer.from(await upstream.arrayBuffer()));
    } catch {
      response.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: (pattern) => seen.filter((line) => pattern.test(line)).length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
