import type { Kysely, Migration } from 'kysely';
import { migrate, withTables } from './database.js';

/**
 * Where an app moved to (docs/SERVICE-KIT.md, "Following a migration"): the registry now
 * holding it and the signed successors that lead there from the registry its app_id names,
 * oldest first. Each successor was verified under the key of the registry before it when it
 * was followed, and is checked again when the map is read back.
 */
export interface AppRegistryRow {
  appId: string;
  authority: string;
  /** The signed `migration_successor` envelopes, the app_id's registry's first. */
  chain: unknown[];
  updatedAt: number;
}

interface AppRegistriesTable {
  app_id: string;
  authority: string;
  successor_json: string;
  updated_at: number;
}

interface Tables {
  app_registries: AppRegistriesTable;
}

const migrations: Record<string, Migration> = {
  '001_app_registries': {
    up: async (db) => {
      await db.schema
        .createTable('app_registries')
        .ifNotExists()
        .addColumn('app_id', 'text', (c) => c.primaryKey())
        .addColumn('authority', 'text', (c) => c.notNull())
        .addColumn('successor_json', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};

function toRow(row: AppRegistriesTable): AppRegistryRow {
  return {
    appId: row.app_id,
    authority: row.authority,
    chain: JSON.parse(row.successor_json) as unknown[],
    updatedAt: Number(row.updated_at),
  };
}

function toTable(row: AppRegistryRow): AppRegistriesTable {
  return { app_id: row.appId, authority: row.authority, successor_json: JSON.stringify(row.chain), updated_at: row.updatedAt };
}

/** What `RegistryClient` keeps its followed successors in; `AppRegistries` is the SQL one. */
export interface SuccessorStore {
  list(): Promise<AppRegistryRow[]>;
  save(row: AppRegistryRow): Promise<void>;
}

/**
 * The persistent per-app successor map of a kit or backbone part, in the part's own database
 * (table `app_registries`): a restart resolves a moved app to its new registry at once.
 */
export class AppRegistries implements SuccessorStore {
  readonly #db: Kysely<Tables>;

  private constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** Creates the table when missing (its own migration set, `app_registries_migrations`). */
  static async open(db: Kysely<unknown>): Promise<AppRegistries> {
    const typed = withTables<Tables>(db);
    await migrate(typed, 'app_registries', migrations);
    return new AppRegistries(typed);
  }

  async list(): Promise<AppRegistryRow[]> {
    return (await this.#db.selectFrom('app_registries').selectAll().execute()).map(toRow);
  }

  async save(row: AppRegistryRow): Promise<void> {
    const values = toTable(row);
    await this.#db
      .insertInto('app_registries')
      .values(values)
      .onConflict((oc) =>
        oc
          .column('app_id')
          .doUpdateSet({ authority: values.authority, successor_json: values.successor_json, updated_at: values.updated_at }),
      )
      .execute();
  }
}
