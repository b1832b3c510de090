import { type Kysely, PostgresAdapter } from 'kysely';

/**
 * Which database a migration runs on: a domain's migrations get only the connection, and the
 * few steps that differ (full-text indexes, collations) branch on this.
 */
export function migrationDialect(db: Kysely<unknown>): 'sqlite' | 'postgres' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
