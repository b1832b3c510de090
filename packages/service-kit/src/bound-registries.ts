import { nowSeconds, registryAuthority } from '@swarm/protocol';
import type { RegistryClient } from '@swarm/runtime';
import type { Kysely } from 'kysely';
import type { Instance } from './instances.js';
import type { KitTables } from './store.js';

type InstanceRef = Pick<Instance, 'serviceId' | 'appId'>;

/**
 * The registry each instance is bound at, kept in `kit_bound_registries` only when it is not the
 * one its app_id names (the app moved: docs/SERVICE-KIT.md, "Following a migration"). An
 * instance whose app resolves elsewhere now is `pending`: it beats nowhere until re-bound, so a
 * registry that has not yet heard of it never gets the chance to revoke it.
 */
export class BoundRegistries {
  readonly #db: Kysely<KitTables>;
  readonly #registry: RegistryClient;
  readonly #byService = new Map<string, string>();

  constructor(db: Kysely<KitTables>, registry: RegistryClient) {
    this.#db = db;
    this.#registry = registry;
  }

  async load(): Promise<void> {
    for (const row of await this.#db.selectFrom('kit_bound_registries').selectAll().execute())
      this.#byService.set(row.service_id, row.authority);
  }

  /** The authority the instance is bound at. */
  authorityOf(instance: InstanceRef): string {
    return this.#byService.get(instance.serviceId) ?? registryAuthority(instance.appId);
  }

  /** Whether the app moved since the instance was bound. */
  pending(instance: InstanceRef): boolean {
    try {
      return this.#registry.registryFor(instance.appId).authority !== this.authorityOf(instance);
    } catch {
      return false;
    }
  }

  /** The instance is bound at `authority` now (a binding handshake or a re-binding succeeded there). */
  async record(instance: InstanceRef, authority: string): Promise<void> {
    if (this.authorityOf(instance) === authority) return;
    const row = { service_id: instance.serviceId, app_id: instance.appId, authority, bound_at: nowSeconds() };
    await this.#db
      .insertInto('kit_bound_registries')
      .values(row)
      .onConflict((oc) => oc.column('service_id').doUpdateSet({ authority: row.authority, bound_at: row.bound_at }))
      .execute();
    this.#byService.set(instance.serviceId, authority);
  }
}
