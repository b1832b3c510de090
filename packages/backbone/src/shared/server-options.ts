import { join } from 'node:path';
import { DEFAULT_FRESHNESS_SECONDS, TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import { type Database, type EgressOptions, openDatabase } from '@swarm/runtime';
import type { FastifyInstance } from 'fastify';
import { type Kysely, sql } from 'kysely';

/** What each backbone part is started with (docs/DEVELOPING.md, common options). */
export interface BackboneServerOptions {
  /** 0 = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** What peers use to reach this part; default `http://<host>:<port>`. */
  publicUrl?: string;
  /** SQLite files live here (and the auth provider's key). */
  dataDir: string;
  /** `postgres://…` switches storage to PostgreSQL. */
  databaseUrl?: string;
  /** PostgreSQL schema (created if missing); tests give each suite its own. */
  databaseSchema?: string;
  /** The registries trusted (SPEC §2); a `TrustedRegistries` table is shared live (an operator's trust file, `watchTrustFile`). */
  trustedRegistries: TrustedRegistry[] | TrustedRegistries;
  /** SPEC §3 freshness window, default 300 s. */
  freshnessSeconds?: number;
  /** pino level, or false for silence. */
  logLevel?: string | false;
  /** Outbound policy for tenant-chosen URLs (docs/OPERATIONS.md); trusted registries always pass. */
  egress?: EgressOptions;
}

export interface ServerHandle {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  freshnessSeconds: number;
  trusted: TrustedRegistries;
}

export function resolveOptions(options: BackboneServerOptions): ResolvedOptions {
  if (!options.dataDir) throw new Error('dataDir is required');
  const freshnessSeconds = options.freshnessSeconds ?? DEFAULT_FRESHNESS_SECONDS;
  if (!Number.isSafeInteger(freshnessSeconds) || freshnessSeconds <= 0) throw new Error('freshnessSeconds must be a positive integer');
  return {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    freshnessSeconds,
    trusted: TrustedRegistries.of(options.trustedRegistries),
  };
}

/** SQLite `<dataDir>/<file>` unless a PostgreSQL URL is given. */
export function openPartDatabase<DB>(options: BackboneServerOptions, file: string): Database<DB> {
  return openDatabase<DB>({ url: options.databaseUrl, file: join(options.dataDir, file), schema: options.databaseSchema });
}

/** `/readyz`: ready while the database answers. */
export function databaseReady(db: Kysely<unknown>): () => Promise<boolean> {
  return async () => {
    await sql`select 1`.execute(db);
    return true;
  };
}
