import { type SigningKey, signingKeyFromPem } from '@swarm/protocol';
import { type CompiledOnce, compileOnce, slotsOf } from '@swarm/runtime';
import type { Kysely, Transaction } from 'kysely';
import {
  INSTANCE_TABLE_COLUMNS,
  type InstanceRow,
  type InstanceStatus,
  instanceChangesToTable,
  instanceToRow,
  instanceToTable,
  type KitInstancesTable,
  type KitTables,
} from './store.js';

/** An instance as the kit works with it: the row plus its imported key. */
export interface Instance extends InstanceRow {
  key: SigningKey | null;
  /** What domain handlers see, made once per load rather than per request. */
  info: InstanceInfo;
}

/** What a domain sees of an instance on each request. */
export interface InstanceInfo {
  serviceId: string;
  appId: string;
  serviceTier: string;
  region: string;
  storageLimitGb: number;
}

const CACHE_MS = 2000;

// Every provisioning inserts an instance and updates it (activation): compiled once, the update
// once per set of columns it changes (a handful of call sites, so a handful of statements).
const instanceInsert = compileOnce<KitTables, KitInstancesTable, unknown>((db, value) =>
  db.insertInto('kit_instances').values(slotsOf(value, INSTANCE_TABLE_COLUMNS)),
);
type InstanceChange = Partial<KitInstancesTable> & { target_service_id: string };
const instanceUpdates = new Map<string, CompiledOnce<KitTables, InstanceChange, unknown>>();
function instanceUpdate(columns: Array<keyof KitInstancesTable>): CompiledOnce<KitTables, InstanceChange, unknown> {
  const key = columns.join(',');
  let update = instanceUpdates.get(key);
  if (!update) {
    update = compileOnce<KitTables, InstanceChange, unknown>((db, value) =>
      db.updateTable('kit_instances').set(slotsOf(value, columns)).where('service_id', '=', value('target_service_id')),
    );
    instanceUpdates.set(key, update);
  }
  return update;
}

/**
 * Instances in the service database, with a short in-process cache so a request does not cost a
 * query; replicas sharing a database see each other's changes within the cache lifetime.
 */
export class InstanceStore {
  readonly #db: Kysely<KitTables>;
  readonly #cache = new Map<string, { instance: Instance | null; until: number }>();
  readonly #keys = new Map<string, SigningKey>();

  constructor(db: Kysely<KitTables>) {
    this.#db = db;
  }

  /** The instance as cached within the last two seconds (null: known not to exist), else undefined. */
  cached(serviceId: string): Instance | null | undefined {
    const cached = this.#cache.get(serviceId);
    return cached && cached.until > Date.now() ? cached.instance : undefined;
  }

  async get(serviceId: string): Promise<Instance | null> {
    const cached = this.cached(serviceId);
    if (cached !== undefined) return cached;
    const row = await this.#db.selectFrom('kit_instances').selectAll().where('service_id', '=', serviceId).executeTakeFirst();
    const instance = row ? this.#withKey(instanceToRow(row)) : null;
    this.#cache.set(serviceId, { instance, until: Date.now() + CACHE_MS });
    if (this.#cache.size > 100_000) this.#cache.clear();
    return instance;
  }

  async list(where: { status?: InstanceStatus; appId?: string } = {}): Promise<Instance[]> {
    let query = this.#db.selectFrom('kit_instances').selectAll();
    if (where.status) query = query.where('status', '=', where.status);
    if (where.appId) query = query.where('app_id', '=', where.appId);
    const rows = await query.execute();
    return rows.map((row) => this.#withKey(instanceToRow(row)));
  }

  async insert(row: InstanceRow): Promise<void> {
    await instanceInsert.run(this.#db, instanceToTable(row));
    this.forget(row.serviceId);
  }

  /**
   * Remembers the key object behind a PEM this process just made, so reading the row back does
   * not parse it: OpenSSL takes about 0.6 ms to decode an Ed25519 PKCS#8 PEM here, more than the
   * rest of a provisioning's signature work.
   */
  rememberKey(pem: string, key: SigningKey): void {
    if (this.#keys.size >= 100_000) this.#keys.clear();
    this.#keys.set(pem, key);
  }

  /** `trx`: inside a transaction another store opened (the binding handshake's activation). */
  async update(serviceId: string, changes: Partial<InstanceRow>, trx?: Transaction<KitTables>): Promise<void> {
    const columns = instanceChangesToTable(changes);
    await instanceUpdate(Object.keys(columns) as Array<keyof KitInstancesTable>).run(trx ?? this.#db, {
      ...columns,
      target_service_id: serviceId,
    });
    this.forget(serviceId);
  }

  forget(serviceId: string): void {
    this.#cache.delete(serviceId);
  }

  /** PEM parsing costs more than a signature: each key is imported once (or never: rememberKey). */
  #withKey(row: InstanceRow): Instance {
    const info = instanceInfo(row);
    if (!row.instanceKey) return { ...row, key: null, info };
    let key = this.#keys.get(row.instanceKey);
    if (!key) {
      key = signingKeyFromPem(row.instanceKey);
      this.rememberKey(row.instanceKey, key);
    }
    return { ...row, key, info };
  }
}

export function instanceInfo(instance: InstanceRow): InstanceInfo {
  return {
    serviceId: instance.serviceId,
    appId: instance.appId,
    serviceTier: instance.serviceTier,
    region: instance.region,
    storageLimitGb: instance.storageLimitGb,
  };
}
