import { withTables } from '@swarm/runtime';
import type { Kysely, Migration } from 'kysely';

export interface RevocationTables {
  revoked_instances: { app_id: string; service_id: string; revoked_at: number };
}

export const revocationsMigration: Migration = {
  up: async (db) => {
    await db.schema
      .createTable('revoked_instances')
      // Billing and logging may share one schema, and with it this table.
      .ifNotExists()
      .addColumn('app_id', 'text', (c) => c.notNull())
      .addColumn('service_id', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('revoked_instances_pk', ['app_id', 'service_id'])
      .execute();
  },
};

/**
 * Instances a SERVICE_REVOKED broadcast named (SPEC §11.3): kept on disk so their reports stay
 * refused after a restart, even while the registry is unreachable.
 */
export class Revocations {
  readonly #db: Kysely<RevocationTables>;

  constructor(db: Kysely<unknown>) {
    this.#db = withTables<RevocationTables>(db);
  }

  async isRevoked(appId: string, serviceId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('revoked_instances')
      .select('service_id')
      .where('app_id', '=', appId)
      .where('service_id', '=', serviceId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async revoke(appId: string, serviceId: string, at: number): Promise<void> {
    await this.#db
      .insertInto('revoked_instances')
      .values({ app_id: appId, service_id: serviceId, revoked_at: at })
      .onConflict((conflict) => conflict.columns(['app_id', 'service_id']).doNothing())
      .execute();
  }
}
