import { randomUUID } from 'node:crypto';
import type { UsageData, UsageSummary } from '@swarm/protocol';
import { isUniqueViolation, migrate, withTables } from '@swarm/runtime';
import { type Kysely, sql } from 'kysely';
import { type RevocationTables, revocationsMigration } from '../shared/revocations.js';

interface UsageTables extends RevocationTables {
  usage_reports: {
    report_id: string;
    app_id: string;
    service_id: string;
    signer_key: string;
    nonce: string;
    period_start: number;
    period_end: number;
    received_at: number;
  };
  usage_metrics: { report_id: string; app_id: string; service_id: string; metric: string; value: number };
}

export async function migrateUsage(db: Kysely<unknown>): Promise<void> {
  await migrate(db, 'billing', {
    '001_usage': {
      up: async (db) => {
        await db.schema
          .createTable('usage_reports')
          .addColumn('report_id', 'text', (c) => c.primaryKey())
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('signer_key', 'text', (c) => c.notNull())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('period_start', 'bigint', (c) => c.notNull())
          .addColumn('period_end', 'bigint', (c) => c.notNull())
          .addColumn('received_at', 'bigint', (c) => c.notNull())
          // A report is counted once per signing key and nonce, whatever the retries.
          .addUniqueConstraint('usage_reports_nonce', ['signer_key', 'nonce'])
          .execute();
        await db.schema.createIndex('usage_reports_app').on('usage_reports').columns(['app_id', 'service_id']).execute();
        await db.schema
          .createTable('usage_metrics')
          .addColumn('report_id', 'text', (c) => c.notNull())
          .addColumn('app_id', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('metric', 'text', (c) => c.notNull())
          .addColumn('value', 'double precision', (c) => c.notNull())
          .addPrimaryKeyConstraint('usage_metrics_pk', ['report_id', 'metric'])
          .execute();
        await db.schema.createIndex('usage_metrics_app').on('usage_metrics').columns(['app_id', 'service_id', 'metric']).execute();
      },
    },
    '002_revocations': revocationsMigration,
  });
}

export class UsageStore {
  readonly #db: Kysely<UsageTables>;

  constructor(db: Kysely<unknown>) {
    this.#db = withTables<UsageTables>(db);
  }

  /** Stores a report and its metrics in one transaction; false when its nonce was seen before. */
  async record(report: UsageData, signerKey: string, receivedAt: number): Promise<boolean> {
    const reportId = randomUUID();
    try {
      await this.#db.transaction().execute(async (trx) => {
        await trx
          .insertInto('usage_reports')
          .values({
            report_id: reportId,
            app_id: report.app_id,
            service_id: report.service_id,
            signer_key: signerKey,
            nonce: report.nonce,
            period_start: report.period_start,
            period_end: report.period_end,
            received_at: receivedAt,
          })
          .execute();
        const metrics = Object.entries(report.metrics).map(([metric, value]) => ({
          report_id: reportId,
          app_id: report.app_id,
          service_id: report.service_id,
          metric,
          value,
        }));
        if (metrics.length > 0) await trx.insertInto('usage_metrics').values(metrics).execute();
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async summary(appId: string, serviceId?: string): Promise<UsageSummary> {
    const metrics = this.#db
      .selectFrom('usage_metrics')
      .where('app_id', '=', appId)
      .$if(serviceId !== undefined, (q) => q.where('service_id', '=', serviceId as string));
    const [totals, appTotals, reports] = await Promise.all([
      metrics
        .select(['service_id', 'metric', sql<number>`sum(value)`.as('value')])
        .groupBy(['service_id', 'metric'])
        .orderBy('service_id')
        .orderBy('metric')
        .execute(),
      metrics
        .select(['metric', sql<number>`sum(value)`.as('value')])
        .groupBy('metric')
        .orderBy('metric')
        .execute(),
      this.#db
        .selectFrom('usage_reports')
        .where('app_id', '=', appId)
        .$if(serviceId !== undefined, (q) => q.where('service_id', '=', serviceId as string))
        .select([
          sql<number>`count(*)`.as('count'),
          sql<number | null>`min(period_start)`.as('start'),
          sql<number | null>`max(period_end)`.as('end'),
        ])
        .executeTakeFirstOrThrow(),
    ]);
    return {
      app_id: appId,
      ...(serviceId === undefined ? {} : { service_id: serviceId }),
      reports: Number(reports.count),
      period: reports.start === null || reports.end === null ? null : { start: Number(reports.start), end: Number(reports.end) },
      totals: totals.map((row) => ({ service_id: row.service_id, metric: row.metric, value: Number(row.value) })),
      app_totals: appTotals.map((row) => ({ metric: row.metric, value: Number(row.value) })),
    };
  }
}
