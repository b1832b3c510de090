import { type SigningKey, signingKeyFromPem } from '@swarm/protocol';
import type { Kysely, Transaction } from 'kysely';
import { type InstanceRow, type InstanceStatus, instanceChangesToTable, instanceToRow, instanceToTable, type KitTables } from './store.js';

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
    await this.#db.insertInto('kit_instances').values(instanceToTable(row)).execute();
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
    await (trx ?? this.#db).updateTable('kit_instances').set(instanceChangesToTable(changes)).where('service_id', '=', serviceId).execute();
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
