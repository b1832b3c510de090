import type { Executor } from './schema.js';

export async function findRetirement(db: Executor, appId: string): Promise<{ retiredAt: number } | null> {
  const row = await db.selectFrom('app_retirements').select('retired_at').where('app_id', '=', appId).executeTakeFirst();
  return row ? { retiredAt: Number(row.retired_at) } : null;
}

/** Whether a retired app of the namespace held this slug: it is not handed out again. */
export async function isRetiredSlug(db: Executor, namespace: string, slug: string): Promise<boolean> {
  const row = await db
    .selectFrom('app_retirements')
    .select('app_id')
    .where('owner_namespace', '=', namespace)
    .where('project_slug', '=', slug)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertRetirement(
  db: Executor,
  row: { appId: string; ownerNamespace: string; projectSlug: string; retiredAt: number },
): Promise<void> {
  await db
    .insertInto('app_retirements')
    .values({ app_id: row.appId, owner_namespace: row.ownerNamespace, project_slug: row.projectSlug, retired_at: row.retiredAt })
    .execute();
}

export async function countActiveBindings(db: Executor, appId: string): Promise<number> {
  const row = await db
    .selectFrom('bindings')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('app_id', '=', appId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
