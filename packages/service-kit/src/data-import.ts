import { setTimeout as sleep } from 'node:timers/promises';
import {
  DataPageAnswer,
  errorFromBody,
  type InstanceMoveData,
  InstanceMoveRequest,
  type MoveStatusAnswer,
  moveIdOf,
  newNonce,
  nowSeconds,
  parseAnswer,
  SwarmError,
  signEnvelope,
  type TransferPageData,
  type TransferSummary,
} from '@swarm/protocol';
import { DEFAULT_MAX_RESPONSE_BYTES, postJson, verifyOwnerSigned, withTables } from '@swarm/runtime';
import type { Kysely } from 'kysely';
import { peerOffer, servingInstance, summarize, transferOf } from './data-transfer.js';
import type { Kit } from './kit.js';
import type { KitTables, KitTransfersTable } from './store.js';

/** Failed page requests in a row (the old provider unreachable or failing) before a transfer stops as `failed`. */
const MAX_FAILURES_IN_A_ROW = 5;
const PAGE_TIMEOUT_MS = 30_000;

type TransferRow = KitTransfersTable;
const dbOf = (kit: Kit): Kysely<KitTables> => withTables<KitTables>(kit.database.db);

export function importStatusUrl(kit: Pick<Kit, 'publicUrl'>, serviceId: string): string {
  return `${kit.publicUrl}/v1/instances/${serviceId}/import`;
}

/**
 * The owner asks this provider to fill one of its instances with another instance's data
 * (`POST /v1/instances/{service_id}/import`, docs/DATA-TRANSFER.md). Checked like every owner
 * request (Master key, or a key granted `update`); the transfer then runs in the background
 * (`202`, status at the same URL). Asked again for the same pair (a new signature), a stopped
 * or failed transfer resumes from its last committed page; a finished one answers `200`.
 */
export async function startImport(
  kit: Kit,
  transfers: Transfers,
  serviceId: string,
  body: unknown,
): Promise<{ status: 200 | 202; body: MoveStatusAnswer }> {
  transferOf(kit);
  const { data, signature } = await verifyOwnerSigned(InstanceMoveRequest, body, {
    purpose: 'instance_move',
    action: 'update',
    registry: kit.registry,
    replay: kit.replay,
    freshnessSeconds: kit.config.freshnessSeconds,
    expect: async (data) => {
      if (data.new_service_id !== serviceId)
        throw new SwarmError('invalid_request', 'data.new_service_id must name the instance in the URL');
      if (data.target_provider !== kit.config.provider) {
        throw new SwarmError('wrong_provider', `this is ${kit.config.provider}, not ${data.target_provider}`);
      }
      // Within one provider there is nothing to move (and the owner's nonce, spent here, could not be shown to itself again).
      if (data.source_provider === data.target_provider) throw new SwarmError('invalid_request', 'a move goes to another provider');
      await servingInstance(kit, serviceId, data.app_id);
      await peerOffer(kit, data.app_id, data.source_provider);
    },
  });
  const db = dbOf(kit);
  const existing = await db.selectFrom('kit_transfers').selectAll().where('service_id', '=', serviceId).executeTakeFirst();
  if (existing && existing.source_service_id !== data.service_id) {
    throw new SwarmError('conflict', `${serviceId} already receives the data of ${existing.source_service_id}`);
  }
  if (existing?.status === 'done') return { status: 200, body: answerOf(kit, existing) };
  const authorization = JSON.stringify({ payload: data, signature });
  // After a digest mismatch the copy is not the old instance's: it is emptied and made again.
  const mismatched = existing?.status === 'failed' && existing.source_summary !== null;
  if (existing && mismatched) {
    const instance = await servingInstance(kit, serviceId, data.app_id);
    await kit.domain.wipe(instance.info);
    await db
      .updateTable('kit_transfers')
      .set({ cursor: null, items_copied: 0, pages: 0, resumed_from_items: null })
      .where('service_id', '=', serviceId)
      .execute();
  }
  if (existing) {
    const resumed = mismatched
      ? null
      : existing.status === 'running' && transfers.isRunning(serviceId)
        ? existing.resumed_from_items
        : existing.items_copied;
    await db
      .updateTable('kit_transfers')
      .set({
        move_id: moveIdOf(data),
        authorization,
        status: 'running',
        error_code: null,
        error_message: null,
        finished_at: null,
        source_summary: null,
        imported_summary: null,
        resumed_from_items: resumed === null ? null : Number(resumed),
        source_provider: data.source_provider,
      })
      .where('service_id', '=', serviceId)
      .execute();
  } else {
    // Two first requests at once (a client's retry): one row, whichever came first.
    await db
      .insertInto('kit_transfers')
      .values(newRow(serviceId, data, authorization))
      .onConflict((oc) => oc.column('service_id').doNothing())
      .execute();
  }
  transfers.start(serviceId);
  return { status: 202, body: await importStatus(kit, serviceId) };
}

function newRow(serviceId: string, data: InstanceMoveData, authorization: string): TransferRow {
  return {
    service_id: serviceId,
    move_id: moveIdOf(data),
    app_id: data.app_id,
    source_service_id: data.service_id,
    source_provider: data.source_provider,
    authorization,
    cursor: null,
    items_copied: 0,
    pages: 0,
    resumed_from_items: null,
    status: 'running',
    error_code: null,
    error_message: null,
    source_summary: null,
    imported_summary: null,
    started_at: nowSeconds(),
    finished_at: null,
  };
}

/** `GET /v1/instances/{service_id}/import`. */
export async function importStatus(kit: Kit, serviceId: string): Promise<MoveStatusAnswer> {
  const row = await dbOf(kit).selectFrom('kit_transfers').selectAll().where('service_id', '=', serviceId).executeTakeFirst();
  if (!row) throw new SwarmError('not_found', 'no data moves into this instance');
  return answerOf(kit, row);
}

function answerOf(kit: Kit, row: TransferRow): MoveStatusAnswer {
  const summary = (text: string | null) => (text === null ? null : (JSON.parse(text) as TransferSummary));
  return {
    move_id: row.move_id,
    app_id: row.app_id,
    service_id: row.service_id,
    source_service_id: row.source_service_id,
    source_provider: row.source_provider,
    status: row.status,
    items_copied: Number(row.items_copied),
    pages: Number(row.pages),
    resumed_from_items: row.resumed_from_items === null ? null : Number(row.resumed_from_items),
    source: summary(row.source_summary),
    imported: summary(row.imported_summary),
    started_at: Number(row.started_at),
    finished_at: row.finished_at === null ? null : Number(row.finished_at),
    status_url: importStatusUrl(kit, row.service_id),
    ...(row.status === 'failed'
      ? { error: { code: row.error_code ?? 'conflict', message: row.error_message ?? 'the transfer failed' } }
      : {}),
  };
}

/**
 * The transfers this process runs, one loop per target instance: ask the old provider for the
 * page after the committed cursor, write it (idempotent by item id), then commit the new
 * cursor. A page written but not yet committed when the process stops is asked for and written
 * again after the restart. At the end both digests are compared: equal is `done`, different is
 * `failed` (`conflict`) and the old instance keeps serving.
 */
export class Transfers {
  readonly #kit: Kit;
  readonly #running = new Map<string, Promise<void>>();
  /** Aborts the waits between retries when the service stops. */
  readonly #stopping = new AbortController();
  #closed = false;

  constructor(kit: Kit) {
    this.#kit = kit;
  }

  isRunning(serviceId: string): boolean {
    return this.#running.has(serviceId);
  }

  start(serviceId: string): void {
    if (this.#closed || this.#running.has(serviceId)) return;
    const run = this.#run(serviceId)
      .catch(() => {})
      .finally(() => this.#running.delete(serviceId));
    this.#running.set(serviceId, run);
  }

  /** Starts every transfer still `running` in the database that no loop here runs (after a restart). */
  async resumeAll(): Promise<void> {
    const db = dbOf(this.#kit);
    const rows = await db
      .selectFrom('kit_transfers')
      .select(['service_id', 'items_copied'])
      .where('status', '=', 'running')
      .limit(100)
      .execute();
    for (const row of rows) {
      if (this.#closed || this.#running.has(row.service_id)) continue;
      await db
        .updateTable('kit_transfers')
        .set({ resumed_from_items: Number(row.items_copied) })
        .where('service_id', '=', row.service_id)
        .execute();
      this.start(row.service_id);
    }
  }

  /** Lets the page in flight finish (its cursor is committed) and starts no other. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopping.abort();
    await Promise.allSettled(this.#running.values());
  }

  async #run(serviceId: string): Promise<void> {
    const kit = this.#kit;
    const db = dbOf(kit);
    const transfer = transferOf(kit);
    let failures = 0;
    while (!this.#closed) {
      const row = await db.selectFrom('kit_transfers').selectAll().where('service_id', '=', serviceId).executeTakeFirst();
      if (row?.status !== 'running') return;
      let step: 'next' | 'retry';
      try {
        step = await this.#step(row, transfer);
        failures = 0;
      } catch (error) {
        const refusal = error instanceof SwarmError && error.status < 500 && error.code !== 'registry_unavailable';
        failures += 1;
        if (refusal || failures >= MAX_FAILURES_IN_A_ROW) {
          const failure = error instanceof SwarmError ? error : new SwarmError('registry_unavailable', 'the transfer stopped');
          await this.#fail(serviceId, failure.code, failure.message);
          return;
        }
        step = 'retry';
      }
      if (step === 'retry') await sleep(Math.min(250 * 2 ** failures, 4000), undefined, { signal: this.#stopping.signal }).catch(() => {});
    }
  }

  /** One page: fetched, written, its cursor committed. */
  async #step(row: TransferRow, transfer: ReturnType<typeof transferOf>): Promise<'next'> {
    const kit = this.#kit;
    const db = dbOf(kit);
    const instance = await servingInstance(kit, row.service_id, row.app_id);
    const source = await peerOffer(kit, row.app_id, row.source_provider);
    const data: TransferPageData = {
      move_id: row.move_id,
      provider: kit.config.provider,
      authorization: JSON.parse(row.authorization) as TransferPageData['authorization'],
      cursor: row.cursor,
      timestamp: nowSeconds(),
      nonce: newNonce(),
    };
    const url = `${source.provision_url}/${encodeURIComponent(row.source_service_id)}/export`;
    let answer: { status: number; body: unknown };
    try {
      answer = await postJson(url, signEnvelope('transfer_page', data, kit.providerKey.privateKey), {
        timeoutMs: PAGE_TIMEOUT_MS,
        egress: kit.egress,
        // A page is up to the old provider's byte budget in base64, far above an acknowledgement.
        maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
      });
    } catch {
      throw new SwarmError('registry_unavailable', `${row.source_provider} could not be reached`);
    }
    if (answer.status !== 200) {
      const error = errorFromBody(answer.body);
      if (error && answer.status < 500) {
        throw new SwarmError(error.code, `${row.source_provider} refused the transfer: ${error.message}`.slice(0, 500));
      }
      throw new SwarmError('registry_unavailable', `${row.source_provider} answered ${answer.status}`);
    }
    const page = parseAnswer(DataPageAnswer, answer.body, `provider ${row.source_provider}`);
    if (page.service_id !== row.source_service_id || page.service_type !== kit.config.serviceType) {
      throw new SwarmError('conflict', `${row.source_provider} answered with data of another instance`);
    }
    await transfer.importPage(instance.info, page.items);
    kit.metrics.transferPages.inc({ side: 'import' });
    kit.metrics.transferItems.inc({ side: 'import' }, page.items.length);
    const progress = { items_copied: Number(row.items_copied) + page.items.length, pages: Number(row.pages) + 1 };
    if (page.next_cursor !== null) {
      await db
        .updateTable('kit_transfers')
        .set({ ...progress, cursor: page.next_cursor })
        .where('service_id', '=', row.service_id)
        .where('status', '=', 'running')
        .execute();
      return 'next';
    }
    if (!page.summary) throw new SwarmError('conflict', `${row.source_provider} sent its last page without a summary`);
    const imported = await summarize(transfer, instance.info);
    const same = imported.items === page.summary.items && imported.digest === page.summary.digest;
    kit.metrics.transfers.inc({ outcome: same ? 'done' : 'conflict' });
    await db
      .updateTable('kit_transfers')
      .set({
        ...progress,
        cursor: null,
        source_summary: JSON.stringify(page.summary),
        imported_summary: JSON.stringify(imported),
        status: same ? 'done' : 'failed',
        finished_at: nowSeconds(),
        ...(same
          ? {}
          : {
              error_code: 'conflict',
              error_message:
                `digest mismatch: ${row.source_service_id} holds ${page.summary.items} items, ${row.service_id} ${imported.items}; ` +
                'the old instance changed during the transfer or the new one holds other data',
            }),
      })
      .where('service_id', '=', row.service_id)
      .where('status', '=', 'running')
      .execute();
    return 'next';
  }

  async #fail(serviceId: string, code: string, message: string): Promise<void> {
    this.#kit.metrics.transfers.inc({ outcome: code });
    await dbOf(this.#kit)
      .updateTable('kit_transfers')
      .set({ status: 'failed', error_code: code, error_message: message.slice(0, 500), finished_at: nowSeconds() })
      .where('service_id', '=', serviceId)
      .where('status', '=', 'running')
      .execute();
  }
}
