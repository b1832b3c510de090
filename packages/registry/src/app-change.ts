import { SwarmError } from '@swarm/protocol';
import type { Transaction } from 'kysely';
import type { RegistryContext } from './context.js';
import { type AppRow, lockApp, saveApp } from './storage/apps.js';
import type { RegistryTables } from './storage/schema.js';

/**
 * Runs one change of an app in a transaction: the app row is locked first (ordering the app's
 * changes and its audit chain), `change` mutates it and writes its own rows and broadcasts,
 * and the row is saved before commit. Queued broadcasts get a first attempt once the commit is done.
 */
export async function changeApp<T>(
  ctx: RegistryContext,
  appId: string,
  change: (trx: Transaction<RegistryTables>, app: AppRow) => Promise<T>,
): Promise<T> {
  let transaction: Transaction<RegistryTables> | undefined;
  const result = await ctx.db.transaction().execute(async (trx) => {
    transaction = trx;
    const app = await lockApp(trx, ctx.dialect, appId);
    if (!app) throw new SwarmError('unknown_app', `no app ${appId} here`);
    const value = await change(trx, app);
    await saveApp(trx, app);
    await ctx.announceChange(trx, appId);
    return value;
  });
  ctx.lookups.changed(appId);
  if (transaction) await ctx.settleBroadcasts(transaction);
  return result;
}

export async function requireApp(ctx: RegistryContext, appId: string): Promise<AppRow> {
  const app = await ctx.reads.apps.find(appId);
  if (!app) throw new SwarmError('unknown_app', `no app ${appId} here`);
  return app;
}

export function requireActive(app: AppRow): AppRow {
  if (app.status === 'retired') throw new SwarmError('gone', `app ${app.appId} is retired`);
  if (app.status === 'suspended') throw new SwarmError('app_suspended', `app ${app.appId} is suspended`);
  return app;
}
