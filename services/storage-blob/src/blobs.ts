import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMessage, SwarmError } from '@swarm/protocol';
import { type Domain, type DomainContext, type InstanceInfo, needs, requestInstance } from '@swarm/service-kit';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { encodedKeyOf, parseObjectKey } from './object-key.js';
import { receiveToFile } from './receive.js';

interface ObjectRow {
  service_id: string;
  key: string;
  file: string;
  size: number;
  content_type: string;
  sha256: string;
  updated_at: number;
}

/** One row per instance, updated first in every write so writes of one instance take turns (SPEC §12 quota). */
interface QuotaLockRow {
  service_id: string;
  writes: number;
}

interface Tables {
  blob_objects: ObjectRow;
  blob_quota_locks: QuotaLockRow;
}

/** What this process has in flight for one instance: bytes stored, bytes reserved by running uploads, and their number. */
interface InFlight {
  used: number;
  reserved: number;
  uploads: number;
}

const ListQuery = z.strictObject({ prefix: z.string().max(1024).optional() });

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
});

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
      };
      let replaced: { file: string; size: number } | undefined;
      try {
        replaced = await db.transaction().execute(async (trx) => {
          await lockInstance(trx, serviceId);
          const previous = await trx
            .selectFrom('blob_objects')
            .select(['file', 'size'])
            .where('service_id', '=', serviceId)
            .where('key', '=', key)
            .executeTakeFirst();
          if ((await usedBytes(trx, serviceId, key)) + row.size > limit) throw overQuota(instance);
          await trx
            .insertInto('blob_objects')
            .values(row)
            .onConflict((oc) =>
              oc
                .columns(['service_id', 'key'])
                .doUpdateSet({ file, size: row.size, content_type: contentType, sha256: row.sha256, updated_at: row.updated_at }),
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
    },

    routes(scope, context) {
      const { db } = context;
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

      scope.put('/objects/*', needs('editor'), async (request, reply) => {
        const instance = requestInstance(request);
        const key = keyOf(request.raw.url ?? '');
        const type = request.headers['content-type'];
        const contentType = typeof type === 'string' && type.length <= 255 ? type : 'application/octet-stream';
        // Refusals are sent before the body is read, and the connection is closed after them,
        // so a refused client cannot keep streaming into the server.
        const refuse = (status: number, error: SwarmError) => reply.code(status).header('connection', 'close').send(error.toBody());
        if ((inFlight.get(instance.serviceId)?.uploads ?? 0) >= maxParallelUploads) {
          reply.header('retry-after', '1');
          return refuse(429, new SwarmError('rate_limited', `at most ${maxParallelUploads} uploads per instance at once`));
        }
        const length = request.headers['content-length'];
        const declared = length === undefined ? undefined : Number(length);
        const stored = await put(context, instance, key, request.raw, contentType, Number.isSafeInteger(declared) ? declared : undefined);
        if (!stored) return refuse(422, overQuota(instance));
        return reply.code(201).send(stored);
      });
      scope.get('/objects/*', needs('reader'), async (request, reply) => {
        const instance = requestInstance(request);
        const row = await find(instance.serviceId, keyOf(request.raw.url ?? ''));
        let handle: Awaited<ReturnType<typeof open>>;
        try {
          handle = await open(join(instanceDir(context, instance.serviceId), row.file), 'r');
        } catch {
          throw new SwarmError('not_found', 'no such object');
        }
        return reply
          .header('content-type', row.content_type)
          .header('content-length', String(Number(row.size)))
          .header('etag', `"${row.sha256}"`)
          .send(handle.createReadStream());
      });
      scope.delete('/objects/*', needs('editor'), async (request, reply) => {
        const instance = requestInstance(request);
        const key = keyOf(request.raw.url ?? '');
        const row = await find(instance.serviceId, key);
        await db.deleteFrom('blob_objects').where('service_id', '=', instance.serviceId).where('key', '=', key).execute();
        const flight = inFlight.get(instance.serviceId);
        if (flight) flight.used -= Number(row.size);
        await unlink(join(instanceDir(context, instance.serviceId), row.file)).catch(() => {});
        reply.code(204).send();
      });
      scope.get('/objects', needs('reader'), async (request) => {
        const { prefix } = parseMessage(ListQuery, request.query);
        const rows = await db
          .selectFrom('blob_objects')
          .selectAll()
          .where('service_id', '=', requestInstance(request).serviceId)
          .orderBy('key')
          .limit(10_000)
          .execute();
        return { objects: rows.filter((row) => !prefix || row.key.startsWith(prefix)).map(toObject) };
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
