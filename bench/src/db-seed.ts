import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { appDnsZone, encodePublicKey } from '@swarm/protocol';
import { openDatabase, withTables } from '@swarm/runtime';
import SQLite from 'better-sqlite3';
import { newInstanceKey, type SeededApp, type SeedFile } from './beats.js';

/** A registry table as this seed writes it: rows go in as the registry's columns, untyped here. */
type Rows = Record<string, Record<string, unknown>>;

export interface DatabaseSeedOptions {
  /** The registry's database: `{ file }` (SQLite) or `{ url }` (PostgreSQL), its tables made by a first start. */
  database: { file: string } | { url: string };
  apps: number;
  instancesPerApp: number;
  appsPerNamespace?: number;
  /** The first `beating` apps' first instance get a key the beat generator holds; the others a random one. */
  beating: number;
  /** When the instances not beating last beat (default: now, as a fresh binding counts as its first beat). */
  idleLastBeatAt?: number;
  /** Where the beating instances' app ids, service ids and keys are written (the beat generator reads it). */
  file: string;
  /** The provider of app number `app`'s instances (default `article.cms.local`, the local swarm's). */
  providerOf?: (app: number) => string;
}

export interface DatabaseSeedSummary {
  apps: number;
  instances: number;
  beating: number;
  seconds: number;
}

/**
 * Writes namespaces, apps and bindings straight into a registry's database, in batches of one
 * transaction each: through the signed routes this machine binds about 100 instances a second
 * under the other tenants' load, so 10 000 would take minutes. What the benches measure — the
 * heartbeats and the lookups — still goes through the registry's routes, and every beating
 * instance is bound to a key that signs its heartbeats. Rows are what the registry writes for a
 * claim, a manifest and a binding; signatures and audit entries, which no lookup reads, are not.
 */
export async function seedDatabase(options: DatabaseSeedOptions): Promise<DatabaseSeedSummary> {
  const started = performance.now();
  const database = openDatabase<unknown>('file' in options.database ? { file: options.database.file } : { url: options.database.url });
  const db = withTables<Rows>(database.db);
  const sqlite = 'file' in options.database ? sqliteWriter(options.database.file) : null;
  const now = Math.floor(Date.now() / 1000);
  const idleLastBeatAt = options.idleLastBeatAt ?? now;
  const perNamespace = options.appsPerNamespace ?? 100;
  const filler = encodePublicKey(randomBytes(32));
  const run = randomBytes(3).toString('hex');
  const beating: SeededApp[] = [];
  const batchApps = 500;
  try {
    for (let first = 0; first < options.apps; first += batchApps) {
      const last = Math.min(options.apps, first + batchApps);
      const namespaces: Array<Record<string, unknown>> = [];
      const apps: Array<Record<string, unknown>> = [];
      const bindings: Array<Record<string, unknown>> = [];
      for (let a = first; a < last; a++) {
        const namespace = `b${run}n${Math.floor(a / perNamespace)}`;
        if (a % perNamespace === 0) {
          namespaces.push({
            namespace,
            public_key: filler,
            guardian_public_keys: JSON.stringify([filler]),
            former_public_keys: '[]',
            contact_email: 'bench@swarm.local',
            metadata: null,
            status: 'active',
            created_at: now,
            updated_at: now,
          });
        }
        const appId = `local.swarm.${namespace}.app${a}.${a.toString(36).padStart(6, '0')}`;
        const zone = appDnsZone(appId);
        apps.push({
          app_id: appId,
          zone: zone.slice(0, -1),
          owner_namespace: namespace,
          project_slug: `app${a}`,
          display_name: `App ${a}`,
          description: null,
          status: 'active',
          created_at: now,
          config_epoch: 1,
          auth_provider_url: null,
          auth_public_key: null,
          auth_previous_public_key: null,
          auth_previous_expires_at: null,
          billing_provider_url: null,
          logging_service_url: null,
          services: '{}',
          log_seq: 0,
          log_hash: '0'.repeat(64),
        });
        const seeded: SeededApp = { app_id: appId, zone, instances: [] };
        const provider = options.providerOf?.(a) ?? 'article.cms.local';
        for (let b = 0; b < options.instancesPerApp; b++) {
          const serviceId = `cms-article-${run}${a.toString(36)}x${b.toString(36)}`;
          const beats = b === 0 && a < options.beating;
          let publicKey = filler;
          if (beats) {
            const { key, jwk } = newInstanceKey();
            publicKey = key.publicKey;
            seeded.instances.push({ service_id: serviceId, ...jwk });
          }
          bindings.push({
            app_id: appId,
            service_id: serviceId,
            provider,
            service_type: 'cms-article',
            endpoint_url: `http://127.0.0.1:7410/i/${serviceId}/api/v1`,
            public_key: publicKey,
            previous_public_key: null,
            previous_key_expires_at: null,
            service_tier: 'free',
            region: 'local',
            storage_limit_gb: 1,
            bound_at: now,
            status: 'active',
            proof_hash: `${run}:${a}:${b}`,
            last_heartbeat_at: beats ? now : idleLastBeatAt,
            heartbeat_status: 'ok',
            revoked_at: null,
          });
        }
        if (seeded.instances.length > 0) beating.push(seeded);
      }
      if (sqlite) {
        sqlite.writeRows('namespaces', namespaces);
        sqlite.writeRows('apps', apps);
        sqlite.writeRows('bindings', bindings);
        continue;
      }
      await db.transaction().execute(async (trx) => {
        if (namespaces.length > 0) await trx.insertInto('namespaces').values(namespaces).execute();
        await trx.insertInto('apps').values(apps).execute();
        // PostgreSQL takes at most 65 535 parameters per statement: 17 columns × 1 000 rows stays below.
        for (let i = 0; i < bindings.length; i += 1000)
          await trx
            .insertInto('bindings')
            .values(bindings.slice(i, i + 1000))
            .execute();
      });
    }
  } finally {
    sqlite?.close();
    await database.close();
  }
  writeFileSync(options.file, JSON.stringify({ apps: beating } satisfies SeedFile));
  return {
    apps: options.apps,
    instances: options.apps * options.instancesPerApp,
    beating: beating.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * SQLite rows through prepared statements, one transaction per batch: a million bindings go in
 * in seconds, where Kysely compiling a multi-row statement per batch took minutes.
 */
function sqliteWriter(file: string) {
  const connection = new SQLite(file);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = OFF');
  const statements = new Map<string, SQLite.Statement>();
  const write = connection.transaction((table: string, rows: Array<Record<string, unknown>>) => {
    for (const row of rows) {
      const columns = Object.keys(row);
      const key = `${table} ${columns.join(',')}`;
      let statement = statements.get(key);
      if (!statement) {
        statement = connection.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
        statements.set(key, statement);
      }
      statement.run(row);
    }
  });
  return {
    writeRows: (table: string, rows: Array<Record<string, unknown>>) => {
      if (rows.length > 0) write(table, rows);
    },
    close: () => connection.close(),
  };
}
