import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, type Migration, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { type Prepare, prepareOnSqlite, prepareWithKysely, type RunInTransaction, runInTransactionWithKysely } from './prepared.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Database<DB> {
  db: Kysely<DB>;
  dialect: Dialect;
  /** A query compiled once for the routes called most (see prepared.ts). */
  prepare: Prepare;
  /** Prepared writes in one transaction. */
  runInTransaction: RunInTransaction;
  /**
   * A number that changes whenever another connection commits (SQLite `PRAGMA data_version`),
   * so rows this process read and keeps in memory can be trusted until it changes. Null on
   * PostgreSQL, where replicas write the same rows and nothing here would tell.
   */
  dataVersion: (() => number) | null;
  /**
   * Changes whenever anything was committed, by this connection or another (SQLite data version
   * and this connection's change count): a cache of answers built from many tables checks it.
   * Null on PostgreSQL.
   */
  changeStamp: (() => string) | null;
  /** Connections of the PostgreSQL pool (metrics); null on SQLite, which has one connection. */
  poolStats: (() => { total: number; idle: number; waiting: number }) | null;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…` for PostgreSQL; otherwise `file` is used. */
  url?: string | undefined;
  /** SQLite file; `:memory:` for a throwaway database. */
  file?: string | undefined;
  /** PostgreSQL schema to work in (created if missing): tests give each suite its own. */
  schema?: string | undefined;
  poolSize?: number;
  /**
   * SQLite durability. `normal` (default) writes every commit to the WAL before it returns, so
   * an acknowledged write survives the process being killed; `full` also fsyncs each commit, so
   * it survives power loss, at about 7 ms per commit on this machine's disk (which blocks the
   * event loop: better-sqlite3 is synchronous). Env: SWARM_SQLITE_SYNCHRONOUS.
   */
  synchronous?: 'normal' | 'full';
}

/**
 * Opens the database behind one Kysely interface: SQLite (better-sqlite3, WAL) by default,
 * PostgreSQL when given a URL.
 */
export function openDatabase<DB>(options: OpenDatabaseOptions): Database<DB> {
  if (options.url && /^postgres(ql)?:\/\//.test(options.url)) {
    const schema = options.schema ?? new URL(options.url).searchParams.get('schema') ?? undefined;
    if (schema && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
    const url = new URL(options.url);
    url.searchParams.delete('schema');
    const pool = new pg.Pool({
      connectionString: url.toString(),
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle client that loses its server must not take the process down.
    pool.on('error', () => {});
    // Nor one that is checked out (the pool listens only to idle ones): its query fails on its
    // own, as registry_unavailable, and the pool drops the broken client when it is released.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      prepare: prepareWithKysely(db),
      runInTransaction: runInTransactionWithKysely(db),
      dataVersion: null,
      changeStamp: null,
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      close: () => db.destroy(),
    };
  }
  const file = options.file ?? ':memory:';
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  const synchronous = options.synchronous ?? (process.env.SWARM_SQLITE_SYNCHRONOUS === 'full' ? 'full' : 'normal');
  sqlite.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  // Two statements: the pragma as a table-valued function costs twice the pragma itself (3 µs).
  const ownChanges = sqlite.prepare('SELECT total_changes()').pluck();
  return {
    db,
    dialect: 'sqlite',
    ...prepareOnSqlite(sqlite, db),
    dataVersion: () => dataVersion.get() as number,
    changeStamp: () => `${dataVersion.get() as number}:${ownChanges.get() as number}`,
    poolStats: null,
    close: () => db.destroy(),
  };
}

/**
 * The shared connection typed with one package's own tables. Packages sharing a database each
 * declare only the tables they own, so the connection travels as `Kysely<unknown>` and every store
 * takes its typed view here, the one place that asserts a table set. Kysely's own `withTables`
 * only widens a known set and refuses interfaces, which is how every package declares its rows.
 */
export function withTables<Tables>(db: Kysely<unknown>): Kysely<Tables> {
  return db as unknown as Kysely<Tables>;
}

/** Creates a PostgreSQL schema if it is missing (tests and replicas sharing a database). */
export async function ensurePostgresSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } finally {
    await client.end();
  }
}

export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Applies numbered migrations (`001_…`, `002_…`) in order. Each package keeps its own
 * migration table so several can share one database.
 */
export async function migrate<DB>(db: Kysely<DB>, name: string, migrations: Record<string, Migration>): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: `${name}_migrations`,
    migrationLockTableName: `${name}_migrations_lock`,
    // Kysely looks for its tables in every schema unless told which: a suite in another schema
    // would make it skip creating ours.
    ...(await postgresSchemaOf(db)),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} of ${name} failed: ${String(error)}`, { cause: error });
  }
}

async function postgresSchemaOf<DB>(db: Kysely<DB>): Promise<{ migrationTableSchema?: string }> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return {};
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  return schema ? { migrationTableSchema: schema } : {};
}

/** Whether a driver error is a unique-constraint violation (SQLite or PostgreSQL). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Kysely prepares every query anew, and preparing costs three times what running a point query
 * does (about 20 µs against 6 µs here). Statements are kept by SQL text; a statement still busy
 * (an open iterator) is never handed out twice.
 */
function withStatementCache(sqlite: SQLite.Database): { close(): void; prepare(sql: string): SQLite.Statement } {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(source: string) {
      let statement = statements.get(source);
      if (statement && !statement.busy) return statement;
      statement = sqlite.prepare(source);
      if (statements.size >= 2000) statements.clear();
      statements.set(source, statement);
      return statement;
    },
  };
}
