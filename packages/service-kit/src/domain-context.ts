import { type CacheCounts, type Database, migrate, withTables } from '@swarm/runtime';
import type { Migration } from 'kysely';
import type { DomainContext } from './domain.js';

/** The migration history name of a service type's domain tables (`cms-article` → `domain_cms_article`). */
export function domainMigrations(serviceType: string): string {
  return `domain_${serviceType.replace(/-/g, '_')}`;
}

/** Creates or upgrades a domain's tables in the service database. */
export function migrateDomain(database: Database<unknown>, serviceType: string, migrations: Record<string, Migration>): Promise<void> {
  return migrate(database.db, domainMigrations(serviceType), migrations);
}

/**
 * What a domain is given over one service database: the service builds it at start, and a
 * domain's own tests build the same over a database of theirs.
 */
export function domainContext<Tables>(
  database: Database<unknown>,
  dataDir: string,
  endpointUrl: (serviceId: string) => string,
  readCacheCounts: CacheCounts = { hit: 0, miss: 0 },
): DomainContext<Tables> {
  return {
    db: withTables<Tables>(database.db),
    dialect: database.dialect,
    prepare: database.prepare,
    dataVersion: database.dataVersion,
    readCacheCounts,
    dataDir,
    endpointUrl,
  };
}
