import { AppMigratedError, MigrationSuccessor, SwarmError } from '@swarm/protocol';
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
  /** Migration activation changes an app still `importing`; nothing else may. */
  options: { importing?: boolean } = {},
): Promise<T> {
  let transaction: Transaction<RegistryTables> | undefined;
  const result = await ctx.db.transaction().execute(async (trx) => {
    transaction = trx;
    const app = await lockApp(trx, ctx.dialect, appId);
    if (!app) throw new SwarmError('unknown_app', `no app ${appId} here`);
    if (!(options.importing && app.status === 'importing')) requireHere(app);
    const value = await change(trx, app);
    await saveApp(trx, app);
    await ctx.announceChange(trx, appId);
    return value;
  });
  ctx.lookups.changed(appId);
  if (transaction) await ctx.settleBroadcasts(transaction);
  return result;
}

/**
 * The app row. For `write` (the default: every change, and the lookups a released app's parts
 * must move on from: the app record, its Master key, its instances and context) a released app is
 * `410 app_migrated` with its signed successor; `read` (the audit log, broadcasts, delegations)
 * stays open, as the export does.
 */
export async function requireApp(ctx: RegistryContext, appId: string, access: 'write' | 'read' = 'write'): Promise<AppRow> {
  const app = await ctx.reads.apps.find(appId);
  if (!app) throw new SwarmError('unknown_app', `no app ${appId} here`);
  if (access === 'write' && app.status === 'migrated') requireHere(app);
  return app;
}

/** `410 app_migrated` (with the signed successor) for a released app, `409 conflict` for one still being imported. */
export function requireHere(app: AppRow): AppRow {
  if (app.status === 'migrated') {
    const successor = MigrationSuccessor.safeParse(app.successor === null ? null : JSON.parse(app.successor));
    if (!successor.success) throw new SwarmError('gone', `app ${app.appId} moved to another registry`);
    throw new AppMigratedError(app.appId, successor.data);
  }
  if (app.status === 'importing') {
    throw new SwarmError('conflict', `app ${app.appId} is being imported here and is not active yet (docs/REGISTRY.md, "Migration")`);
  }
  return app;
}

export function requireActive(app: AppRow): AppRow {
  requireHere(app);
  if (app.status === 'retired') throw new SwarmError('gone', `app ${app.appId} is retired`);
  if (app.status === 'suspended') throw new SwarmError('app_suspended', `app ${app.appId} is suspended`);
  return app;
}
