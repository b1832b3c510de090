import { randomUUID } from 'node:crypto';
import type { LogsData, StoredLogEntry } from '@swarm/protocol';
import { isUniqueViolation, migrate, withTables } from '@swarm/runtime';
import type { Kysely } from 'kysely';
import { LOG_LEVELS, type LogLevel } from '../shared/query-params.js';
import { type RevocationTables, revocationsMigration } from '../shared/revocations.js';

interface LogTables extends RevocationTables {
  log_batches: { batch_id: string; app_id: string; service_id: string; signer_key: string; nonce: string; received_at: number };
  log_entries: {
    batch_id: string;
    seq: number;
    app_id: string;
    service_id: string;
    level: LogLevel;
    severity: number;
    message: string;
    at: number;
    fields: string | null;
    received_at: number;
  };
}

export interface LogQuery {
  app_id: string;
  service_id?: string | undefined;
  /** This level and the more severe ones. */
  level?: LogLevel | undefined;
  since?: number | undefined;
  limit?: number | undefined;
}

export const DEFAULT_LOG_LIMIT = 1000;

export async function migrateLogs(db: Kysely<unknown>): Promise<void> {
  await migrate(db, 'logging', {
    '001_logs': {
      up: async (db) => {
        await db.schema
          .createTable('log_batches')
          .addColumn('batch_id', 'text', (c) => c.primaryKey())
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('signer_key', 'text', (c) => c.notNull())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          // A batch is stored once per signing key and nonce, whatever the retries.
          .addUniqueConstraint('log_batches_nonce', ['signer_key', 'nonce'])
          .execute();
        await db.schema
          .createTable('log_entries')
          .addColumn('batch_id', 'text', (c) => c.notNull())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('level', 'text', (c) => c.notNull())
          .addColumn('severity', 'integer', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('fields', 'text')
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('log_entries_pk', ['batch_id', 'seq'])
          .execute();
        await db.schema.createIndex('log_entries_app_at').on('log_entries').columns(['app_id', 'at']).execute();
      },
    },
    '002_revocations': revocationsMigration,
  });
}

export class LogStore {
  readonly #db: Kysely<LogTables>;

  constructor(db: Kysely<unknown>) {
    this.#db = withTables<LogTables>(db);
  }

  /** Stores a batch and its entries in one transaction; false when its nonce was seen before. */
  async record(batch: LogsData, signerKey: string, receivedAt: number): Promise<boolean> {
    const batchId = randomUUID();
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .insertInto('log_batches')
          .values({
            batch_id: batchId,
            app_id: batch.app_id,
            service_id: batch.service_id,
            signer_key: signerKey,
            nonce: batch.nonce,
            received_at: receivedAt,
          })
          .execute();
        await trx
          .insertInto('log_entries')
          .values(
            batch.entries.map((entry, seq) => ({
              batch_id: batchId,
              seq,
              app_id: batch.app_id,
              service_id: batch.service_id,
              level: entry.level,
              severity: LOG_LEVELS.indexOf(entry.level),
              // PostgreSQL text cannot hold NUL; everything else is kept as sent.
              message: entry.message.replaceAll('\u0000', '\ufffd'),
              at: entry.at,
              fields: entry.fields === undefined ? null : JSON.stringify(entry.fields),
              received_at: receivedAt,
            })),
          )
          .execute();
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** The newest entries that match, oldest first. */
  async entries(query: LogQuery): Promise<StoredLogEntry[]> {
    const rows = await this.#db
      .selectFrom('log_entries')
      .select(['service_id', 'level', 'message', 'at', 'fields', 'received_at'])
      .where('app_id', '=', query.app_id)
      .$if(query.service_id !== undefined, (q) => q.where('service_id', '=', query.service_id as string))
      .$if(query.level !== undefined, (q) => q.where('severity', '>=', LOG_LEVELS.indexOf(query.level as LogLevel)))
      .$if(query.since !== undefined, (q) => q.where('at', '>=', query.since as number))
      .orderBy('at', 'desc')
      .orderBy('received_at', 'desc')
      .orderBy('batch_id', 'desc')
      .orderBy('seq', 'desc')
      .limit(query.limit ?? DEFAULT_LOG_LIMIT)
      .execute();
    return rows.reverse().map((row) => ({
      service_id: row.service_id,
      level: row.level,
      message: row.message,
      at: Number(row.at),
      ...(row.fields === null ? {} : { fields: JSON.parse(row.fields) as Record<string, unknown> }),
      received_at: Number(row.received_at),
    }));
  }
}
