import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMessage, SwarmError } from '@swarm/protocol';
import {
  type Domain,
  type DomainContext,
  type InstanceInfo,
  migrationDialect,
  needs,
  requestInstance,
  requireWritePreconditions,
  type SignedAccess,
} from '@swarm/service-kit';
import { type Kysely, sql } from 'kysely';
import { ListQuery, listObjects } from './listing.js';
import { metadataOf, storedMetadata } from './metadata.js';
import { encodedKeyOf, parseObjectKey } from './object-key.js';
import { blobOpenApi } from './openapi.js';
import { Presigner } from './presign.js';
import { PresignRequest, presignAnswer, presignBody } from './presign-route.js';
import { receiveToFile } from './receive.js';
import { serveObject } from './serve.js';
import type { ObjectRow, Tables } from './tables.js';
import { blobTransfer } from './transfer.js';

/** What this process has in flight for one instance: bytes stored, bytes reserved by running uploads, and their number. */
interface InFlight {
  used: number;
  reserved: number;
  uploads: number;
}

export interface BlobDomainOptions {
  /** Bytes in one GB of `storage_limit_gb`; tests make it small to reach the quota. */
  bytesPerGb?: number;
  /** Uploads one instance may have in flight; more answer `429 rate_limited`. Default 4. */
  maxParallelUploads?: number;
}

/** Browsers open 6 connections per host; an instance's uploads get fewer, so one tenant's stalled PUTs hold little. */
export const DEFAULT_MAX_PARALLEL_UPLOADS = 4;

const toObject = (row: ObjectRow) => ({
  key: row.key,
  size: Number(row.size),
  content_type: row.content_type,
  etag: row.sha256,
  updated_at: Number(row.updated_at),
  metadata: storedMetadata(row.metadata),
});

/** The preconditions of a write, as RFC 9110 names them. */
type WriteConditions = { 'if-match'?: string | string[]; 'if-none-match'?: string | string[] };

/**
 * Takes the instance's lock row for the rest of the transaction: PostgreSQL holds a row lock
 * until commit, SQLite the write lock, so two writes of one instance check the quota in turn
 * (under READ COMMITTED, two sums read side by side would both let their write in).
 */
async function lockInstance(trx: Kysely<Tables>, serviceId: string): Promise<void> {
  await trx
    .insertInto('blob_quota_locks')
    .values({ service_id: serviceId, writes: 0 })
    .onConflict((oc) => oc.column('service_id').doNothing())
    .execute();
  await trx
    .updateTable('blob_quota_locks')
    .set((eb) => ({ writes: eb('writes', '+', 1) }))
    .where('service_id', '=', serviceId)
    .execute();
}

/**
 * Objects (SPEC §12): bodies stream to a temp file while their bytes are counted, and are kept
 * only when the instance stays within `storage_limit_gb`; metadata lives in the database and
 * files under random names, so no key ever becomes a path.
 */
export function createBlobDomain(options: BlobDomainOptions = {}): Domain<Tables> {
  const bytesPerGb = options.bytesPerGb ?? 1_000_000_000;
  if (!(bytesPerGb > 0)) throw new Error('bytesPerGb must be positive');
  const maxParallelUploads = options.maxParallelUploads ?? DEFAULT_MAX_PARALLEL_UPLOADS;
  if (!Number.isInteger(maxParallelUploads) || maxParallelUploads < 1) throw new Error('maxParallelUploads must be a positive integer');
  const inFlight = new Map<string, InFlight>();
  const instanceDir = (context: DomainContext<Tables>, serviceId: string) => join(context.dataDir, 'objects', serviceId);

  const usedBytes = async (db: Kysely<Tables>, serviceId: string, exceptKey?: string) => {
    let query = db
      .selectFrom('blob_objects')
      .select((eb) => eb.fn.sum<number | string | null>('size').as('total'))
      .where('service_id', '=', serviceId);
    if (exceptKey !== undefined) query = query.where('key', '!=', exceptKey);
    const row = await query.executeTakeFirst();
    return Number(row?.total ?? 0);
  };

  const overQuota = (instance: InstanceInfo) =>
    new SwarmError('quota_exceeded', `the instance's storage limit of ${instance.storageLimitGb} GB would be exceeded`);

  /**
   * Stores one upload. Bytes are reserved against the limit as they arrive (all of a declared
   * Content-Length at once), so parallel uploads of one instance never hold more than its
   * limit on disk; the database check at the end, under the instance's lock row, keeps replicas
   * of this service within it too. Returns null when the body went over the limit.
   */
  async function put(
    context: DomainContext<Tables>,
    instance: InstanceInfo,
    key: string,
    body: NodeJS.ReadableStream,
    contentType: string,
    declared: number | undefined,
    metadata: Record<string, string> | null,
    conditions: WriteConditions,
  ) {
    const { db } = context;
    const serviceId = instance.serviceId;
    const limit = instance.storageLimitGb * bytesPerGb;
    let flight = inFlight.get(serviceId);
    if (!flight) {
      flight = { used: 0, reserved: 0, uploads: 0 };
      inFlight.set(serviceId, flight);
    }
    const current = flight;
    current.uploads += 1;
    let mine = 0;
    try {
      // With no other upload of this instance running here, the database is the truth; with
      // some, the running tally already holds what they committed.
      if (current.uploads === 1) current.used = await usedBytes(db, serviceId);
      const old = await db
        .selectFrom('blob_objects')
        .select('size')
        .where('service_id', '=', serviceId)
        .where('key', '=', key)
        .executeTakeFirst();
      // Replacing an object frees what it held.
      const credit = Number(old?.size ?? 0);
      const room = () => limit - (current.used - credit) - current.reserved;
      const reserve = (total: number) => {
        if (total <= mine) return true;
        if (total - mine > room()) return false;
        current.reserved += total - mine;
        mine = total;
        return true;
      };
      if (declared !== undefined && !reserve(declared)) return null;

      const tmpDir = join(context.dataDir, 'tmp');
      mkdirSync(tmpDir, { recursive: true });
      const tmp = join(tmpDir, randomUUID());
      const received = await receiveToFile(body as never, tmp, reserve);
      if (!received) return null;
      const dir = instanceDir(context, serviceId);
      mkdirSync(dir, { recursive: true });
      const file = randomUUID();
      await rename(tmp, join(dir, file));
      const row: ObjectRow = {
        service_id: serviceId,
        key,
        file,
        size: received.size,
        content_type: contentType,
        sha256: received.sha256,
        updated_at: Math.floor(Date.now() / 1000),
        metadata: metadata === null ? null : JSON.stringify(metadata),
      };
      let replaced: { file: string; size: number } | undefined;
      try {
        replaced = await db.transaction().execute(async (trx) => {
          await lockInstance(trx, serviceId);
          const previous = await trx
            .selectFrom('blob_objects')
            .select(['file', 'size', 'sha256'])
            .where('service_id', '=', serviceId)
            .where('key', '=', key)
            .executeTakeFirst();
          // Checked again under the lock: another write may have replaced the object while this body streamed in.
          requireWritePreconditions(conditions, previous?.sha256 ?? null, 'the object');
          if ((await usedBytes(trx, serviceId, key)) + row.size > limit) throw overQuota(instance);
          await trx
            .insertInto('blob_objects')
            .values(row)
            .onConflict((oc) =>
              oc.columns(['service_id', 'key']).doUpdateSet({
                file,
                size: row.size,
                content_type: contentType,
                sha256: row.sha256,
                updated_at: row.updated_at,
                metadata: row.metadata,
              }),
            )
            .execute();
          return previous && { file: previous.file, size: Number(previous.size) };
        });
      } catch (error) {
        await unlink(join(dir, file)).catch(() => {});
        throw error;
      }
      // The bytes move from reserved to stored in one step, so no other upload sees them twice or not at all.
      current.used += row.size - (replaced?.size ?? 0);
      current.reserved -= mine;
      mine = 0;
      if (replaced) await unlink(join(dir, replaced.file)).catch(() => {});
      return toObject(row);
    } finally {
      current.reserved -= mine;
      current.uploads -= 1;
      if (current.uploads === 0) inFlight.delete(serviceId);
    }
  }

  return {
    openapi: blobOpenApi,
    transfer: blobTransfer({ instanceDir, usedBytes, lockInstance, bytesPerGb }),
    migrations: {
      '001_objects': {
        up: async (db) => {
          await db.schema
            .createTable('blob_objects')
            .ifNotExists()
            .addColumn('service_id', 'text', (c) => c.notNull())
            .addColumn('key', 'text', (c) => c.notNull())
            .addColumn('file', 'text', (c) => c.notNull())
            .addColumn('size', 'bigint', (c) => c.notNull())
            .addColumn('content_type', 'text', (c) => c.notNull())
            .addColumn('sha256', 'text', (c) => c.notNull())
            .addColumn('updated_at', 'bigint', (c) => c.notNull())
            .addPrimaryKeyConstraint('blob_objects_pk', ['service_id', 'key'])
            .execute();
        },
      },
      '002_quota_locks': {
        up: async (db) => {
          await db.schema
            .createTable('blob_quota_locks')
            .ifNotExists()
            .addColumn('service_id', 'text', (c) => c.primaryKey())
            .addColumn('writes', 'bigint', (c) => c.notNull())
            .execute();
        },
      },
      // User metadata, and keys compared byte by byte on PostgreSQL as on SQLite, so listings,
      // prefixes and cursors order alike on both (the primary key index is rebuilt in that order).
      '003_metadata_and_key_order': {
        up: async (db) => {
          await db.schema.alterTable('blob_objects').addColumn('metadata', 'text').execute();
          if (migrationDialect(db) === 'postgres') await sql`alter table blob_objects alter column key type text collate "C"`.execute(db);
        },
      },
      '004_secrets': {
        up: async (db) => {
          await db.schema
            .createTable('blob_secrets')
            .ifNotExists()
            .addColumn('name', 'text', (c) => c.primaryKey())
            .addColumn('value', 'text', (c) => c.notNull())
            .execute();
        },
      },
    },

    async routes(scope, context) {
      const { db } = context;
      const presigner = await Presigner.fromDatabase(db);
      // Bodies here are raw bytes of any size: handlers stream `request.raw` themselves.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
      const keyOf = (url: string) => parseObjectKey(encodedKeyOf(url));
      const find = async (serviceId: string, key: string) => {
        const row = await db
          .selectFrom('blob_objects')
          .selectAll()
          .where('service_id', '=', serviceId)
          .where('key', '=', key)
          .executeTakeFirst();
        if (!row) throw new SwarmError('not_found', 'no such object');
        return row;
      };
      // A presigned URL stands in for a token on the one object and method it was signed for.
      const signedAccess: SignedAccess = (request, instance) => {
        presigner.verify(request.method, instance.serviceId, keyOf(request.raw.url ?? ''), request.query, Math.floor(Date.now() / 1000));
        return { roles: [request.method === 'PUT' ? 'editor' : 'reader'] };
      };

      scope.put('/objects/*', needs('editor', { signedAccess }), async (request, reply) => {
        const instance = requestInstance(request);
        const key = keyOf(request.raw.url ?? '');
        const type = request.headers['content-type'];
        const contentType = typeof type === 'string' && type.length <= 255 ? type : 'application/octet-stream';
        // Refusals are sent before the body is read, and the connection is closed after them,
        // so a refused client cannot keep streaming into the server.
        const refuse = (error: SwarmError) => reply.code(error.status).header('connection', 'close').send(error.toBody());
        if ((inFlight.get(instance.serviceId)?.uploads ?? 0) >= maxParallelUploads) {
          reply.header('retry-after', '1');
          return refuse(new SwarmError('rate_limited', `at most ${maxParallelUploads} uploads per instance at once`));
        }
        const conditions = { 'if-match': request.headers['if-match'], 'if-none-match': request.headers['if-none-match'] };
        let metadata: Record<string, string> | null;
        try {
          metadata = metadataOf(request.headers);
          if (conditions['if-match'] !== undefined || conditions['if-none-match'] !== undefined) {
            const current = await db
              .selectFrom('blob_objects')
              .select('sha256')
              .where('service_id', '=', instance.serviceId)
              .where('key', '=', key)
              .executeTakeFirst();
            requireWritePreconditions(conditions, current?.sha256 ?? null, 'the object');
          }
        } catch (error) {
          if (error instanceof SwarmError && error.status < 500) return refuse(error);
          throw error;
        }
        const length = request.headers['content-length'];
        const declared = length === undefined ? undefined : Number(length);
        const stored = await put(
          context,
          instance,
          key,
          request.raw,
          contentType,
          Number.isSafeInteger(declared) ? declared : undefined,
          metadata,
          conditions,
        );
        if (!stored) return refuse(overQuota(instance));
        return reply.code(201).header('etag', `"${stored.etag}"`).send(stored);
      });
      // Declared before GET, so the kit's automatic HEAD route does not take its place.
      for (const method of ['HEAD', 'GET'] as const) {
        scope.route({
          method,
          url: '/objects/*',
          ...needs('reader', { signedAccess }),
          handler: async (request, reply) => {
            const instance = requestInstance(request);
            const row = await find(instance.serviceId, keyOf(request.raw.url ?? ''));
            return serveObject(request, reply, row, join(instanceDir(context, instance.serviceId), row.file));
          },
        });
      }
      scope.delete('/objects/*', needs('editor'), async (request, reply) => {
        const instance = requestInstance(request);
        const key = keyOf(request.raw.url ?? '');
        const row = await find(instance.serviceId, key);
        requireWritePreconditions({ 'if-match': request.headers['if-match'] }, row.sha256, 'the object');
        // Deleted only as it was checked: a PUT that replaced it in between wins.
        const result = await db
          .deleteFrom('blob_objects')
          .where('service_id', '=', instance.serviceId)
          .where('key', '=', key)
          .where('file', '=', row.file)
          .executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) throw new SwarmError('precondition_failed', 'the object changed while it was deleted');
        const flight = inFlight.get(instance.serviceId);
        if (flight) flight.used -= Number(row.size);
        await unlink(join(instanceDir(context, instance.serviceId), row.file)).catch(() => {});
        reply.code(204).send();
      });
      scope.get('/objects', needs('reader'), async (request) => {
        const query = parseMessage(ListQuery, request.query);
        const page = await listObjects(db, requestInstance(request).serviceId, query);
        return {
          objects: page.rows.map(toObject),
          ...(query.delimiter === undefined ? {} : { common_prefixes: page.commonPrefixes }),
          next_cursor: page.nextCursor,
        };
      });
      // A presigned URL: anyone with the role the method needs may hand one out.
      scope.post('/presign', needs('reader'), async (request, reply) => {
        const instance = requestInstance(request);
        // A body refused midway leaves bytes unread on the connection: it is closed after the answer.
        const body = await presignBody(request.raw).catch((error: unknown) => {
          reply.header('connection', 'close');
          throw error;
        });
        return presignAnswer(presigner, context.endpointUrl(instance.serviceId), request, instance, parseMessage(PresignRequest, body));
      });
    },

    async wipe(instance, context) {
      await context.db.deleteFrom('blob_objects').where('service_id', '=', instance.serviceId).execute();
      await context.db.deleteFrom('blob_quota_locks').where('service_id', '=', instance.serviceId).execute();
      await rm(instanceDir(context, instance.serviceId), { recursive: true, force: true });
    },

    async usage(instance, context) {
      return { bytes_stored: await usedBytes(context.db, instance.serviceId) };
    },

    async checkStorageLimit(instance, storageLimitGb, context) {
      const used = await usedBytes(context.db, instance.serviceId);
      if (used > storageLimitGb * bytesPerGb) {
        throw new SwarmError(
          'quota_exceeded',
          `the instance holds ${used} bytes, more than a storage limit of ${storageLimitGb} GB allows; nothing was changed`,
        );
      }
    },
  };
}
