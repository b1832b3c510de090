import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SwarmError } from '@swarm/protocol';
import type { Command } from 'commander';
import { type BroadcastState, listBroadcasts, retryBroadcasts } from '../broadcasts.js';
import { loadKey } from '../keys.js';
import { action, integer, option, optional } from './common.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function state<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new SwarmError('invalid_request', `--state must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** `swarm broadcasts list|retry`: an app's broadcast outbox at the registry, for its owner. */
export function addBroadcastCommands(program: Command): void {
  const broadcasts = program.command('broadcasts').description("the app's broadcasts waiting at the registry, delivered, or dead");
  broadcasts
    .command('list')
    .description('list the app’s broadcasts in one state (dead letters by default)')
    .requiredOption('--app <app_id>', 'the app')
    .option('--state <state>', 'dead, pending or delivered', 'dead')
    .option('--limit <n>', 'rows per page (default 100, at most 1000)', integer)
    .option('--after <cursor>', 'the `next` of the page before')
    .action(
      action(async (ctx) => {
        const limit = ctx.opts.limit as number | undefined;
        const after = optional(ctx, 'after');
        const page = await listBroadcasts(ctx.client, option(ctx, 'app'), {
          state: state<BroadcastState>(optional(ctx, 'state'), ['dead', 'pending', 'delivered'], 'dead'),
          ...(after ? { after } : {}),
          ...(limit ? { limit } : {}),
        });
        const lines = page.broadcasts.map(
          (row) => `${row.id}  ${row.event ?? '-'}  ${row.url}  attempts ${row.attempts}${row.last_error ? `  ${row.last_error}` : ''}`,
        );
        const more = page.next ? `\nmore: --after ${page.next}` : '';
        return { json: page, human: `${page.broadcasts.length} ${page.state} broadcast(s) of ${page.app_id}\n${lines.join('\n')}${more}` };
      }),
    );
  broadcasts
    .command('retry')
    .description('put the app’s dead broadcasts (all, or --id …) back in the queue')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--id <id>', 'a dead broadcast to retry (repeatable; default all)', collect)
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const ids = ctx.opts.id as string[] | undefined;
        const answer = await retryBroadcasts(ctx.client, { appId: option(ctx, 'app'), master, ...(ids ? { ids } : {}) });
        return { json: answer, human: `${answer.retried} broadcast(s) of ${answer.app_id} back in the queue` };
      }),
    );
}

/** Opens the report outbox of a service's database the way the service itself does. */
async function reportOutbox(ctx: { opts: Record<string, unknown> }, serviceType: string) {
  const databaseUrl = (ctx.opts.databaseUrl as string | undefined) ?? process.env.SWARM_DATABASE_URL;
  const dataDir = (ctx.opts.data as string | undefined) ?? join('.swarm', serviceType);
  // Only when asked for: the CLI starts without the service kit otherwise.
  const { kitDatabaseFile, openReportOutbox } = await import('@swarm/service-kit');
  if (!databaseUrl && !existsSync(kitDatabaseFile(dataDir, serviceType))) {
    throw new SwarmError('not_found', `no ${serviceType} database under ${dataDir} (give --data DIR or --database-url)`);
  }
  return openReportOutbox({ serviceType, dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
}

/** `swarm outbox list|retry <service_type>`: a provider's usage and log reports, for its operator. */
export function addOutboxCommands(program: Command): void {
  const outbox = program.command('outbox').description("a service's usage and log reports waiting or dead (reads its database)");
  outbox
    .command('list <service_type>')
    .description('list report rows in one state (dead letters by default)')
    .option('--data <dir>', 'the service’s data folder (default .swarm/<service_type>)')
    .option('--database-url <url>', 'postgres://… when the service runs on PostgreSQL (env SWARM_DATABASE_URL)')
    .option('--state <state>', 'dead or pending', 'dead')
    .option('--app <app_id>', 'only this app’s rows')
    .option('--limit <n>', 'rows per page (default 100)', integer)
    .option('--after <id>', 'the `next` of the page before')
    .action(
      action(async (ctx, serviceType: string) => {
        const store = await reportOutbox(ctx, serviceType);
        try {
          const appId = optional(ctx, 'app');
          const after = optional(ctx, 'after');
          const page = await store.list({
            state: state(optional(ctx, 'state'), ['dead', 'pending'] as const, 'dead'),
            limit: Math.min((ctx.opts.limit as number | undefined) || 100, 1000),
            ...(appId ? { appId } : {}),
            ...(after ? { after } : {}),
          });
          const lines = page.rows.map(
            (row) => `${row.id}  ${row.kind}  ${row.app_id}  ${row.service_id}  attempts ${row.attempts}  ${row.last_error ?? ''}`,
          );
          const more = page.next ? `\nmore: --after ${page.next}` : '';
          return { json: page, human: `${page.rows.length} report row(s)\n${lines.join('\n')}${more}` };
        } finally {
          await store.close();
        }
      }),
    );
  outbox
    .command('retry <service_type>')
    .description('put dead report rows (all, one app’s, or --id …) back in the queue; a running service sends them at its next flush')
    .option('--data <dir>', 'the service’s data folder (default .swarm/<service_type>)')
    .option('--database-url <url>', 'postgres://… when the service runs on PostgreSQL (env SWARM_DATABASE_URL)')
    .option('--app <app_id>', 'only this app’s rows')
    .option('--id <id>', 'a dead row to retry (repeatable)', collect)
    .action(
      action(async (ctx, serviceType: string) => {
        const store = await reportOutbox(ctx, serviceType);
        try {
          const appId = optional(ctx, 'app');
          const ids = ctx.opts.id as string[] | undefined;
          const retried = await store.retry({ ...(appId ? { appId } : {}), ...(ids ? { ids } : {}) });
          return { json: { retried }, human: `${retried} report row(s) back in the queue` };
        } finally {
          await store.close();
        }
      }),
    );
}
