import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Envelope } from '@swarm/protocol';
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS } from '@swarm/runtime';

// The signed requests of developers, providers and instances come from the one seeding module.
export {
  appManifest,
  bindingRequest,
  boundInstance,
  catalogEntry,
  type DeveloperKeys as Developer,
  developerProof,
  developerWithApp,
  listedProvider,
  makeDeveloper,
  makeProvider,
  namespaceClaim,
  offer,
  type Provider,
  serviceCall,
} from '@swarm/dev-env';
export { bearer, call, get, post } from '@swarm/runtime/testing';

import { type RegistryHandle, type RegistryOptions, startRegistry } from '../src/index.js';

export type { JsonAnswer as Answer } from '@swarm/runtime/testing';

/** How a suite starts registries: SQLite in a temp folder, or its own PostgreSQL schema. */
export interface Backend {
  name: string;
  skip: string | false;
  start(options?: RegistryOptions): Promise<RegistryHandle>;
  /** Options that put a second registry on the same database. */
  shared(): RegistryOptions;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-registry-'));
  return {
    name: 'sqlite',
    skip: false,
    start: (options = {}) =>
      startRegistry({ dataDir: dir, logLevel: false, dnsPort: false, egress: { allow: LOOPBACK_CIDRS }, ...options }),
    shared: () => ({ dataDir: dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function postgresBackend(): Backend {
  const url = process.env.SWARM_TEST_POSTGRES_URL;
  const schema = `registry_test_${randomBytes(4).toString('hex')}`;
  let created: Promise<void> | null = null;
  return {
    name: 'postgres',
    skip: url ? false : 'SWARM_TEST_POSTGRES_URL is not set',
    start: async (options = {}) => {
      if (!url) throw new Error('no PostgreSQL');
      created ??= ensurePostgresSchema(url, schema);
      await created;
      return startRegistry({
        databaseUrl: url,
        databaseSchema: schema,
        logLevel: false,
        dnsPort: false,
        egress: { allow: LOOPBACK_CIDRS },
        ...options,
      });
    },
    shared: () => ({ databaseUrl: url ?? '', databaseSchema: schema }),
    cleanup: async () => {
      if (url && created) await dropPostgresSchema(url, schema);
    },
  };
}

export type { Envelope };
