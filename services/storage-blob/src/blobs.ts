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

interface Tables {
  blob_objects: ObjectRow;
}

const ListQuery = z.strictObject({ prefix: z.string().max(1024).optional() });

export interface BlobDomainOptions {
  /** Bytes in one GB of `storage_limit_gb`; tests make it small to reach the quota. */
  bytesPerGb?: number;
}

const toObject = (row: ObjectRow) => ({
  key: row.key,
  size: Number(row.size),
  content_type: row.content_type,
  etag: row.sha256,
  updated_at: Number(row.updated_at),
});

/**
 * Objects (SPEC §12): bodies stream to a temp file while their bytes are counted, and are kept
 * only when the instance stays within `storage_limit_gb`; metadata lives in the database and
 * files under random names, so no key ever becomes a path.
 */
export function createBlobDomain(options: BlobDomainOptions = {}): Domain<Tables> {
  const bytesPerGb = options.bytesPerGb ?? 1_000_000_000;
  if (!(bytesPerGb > 0)) throw new Error('bytesPerGb must be positive');
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

  async function put(
    context: DomainContext<Tables>,
    instance: InstanceInfo,
    key: string,
    body: NodeJS.ReadableStream,
    contentType: string,
  ) {
    const { db } = context;
    const limit = instance.storage_limit_gb * bytesPerGb;
    const room = limit - (await usedBytes(db, instance.service_id, key));
    const tmpDir = join(context.dataDir, 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomUUID());
    const received = await receiveToFile(body as never, tmp, Math.max(0, room));
    if (!received)
      throw new SwarmError('quota_exceeded', `the instance's storage limit of ${instance.storage_limit_gb} GB would be exceeded`);
    const dir = instanceDir(context, instance.service_id);
    mkdirSync(dir, { recursive: true });
    const file = randomUUID();
    await rename(tmp, join(dir, file));
    const row: ObjectRow = {
      service_id: instance.service_id,
      key,
      file,
      size: received.size,
      content_type: contentType,
      sha256: received.sha256,
      updated_at: Math.floor(Date.now() / 1000),
    };
    let replaced: string | undefined;
    try {
      // Concurrent writers are checked again where it counts: inside the transaction.
      replaced = await db.transaction().execute(async (trx) => {
        const old = await trx
          .selectFrom('blob_objects')
          .select('file')
          .where('service_id', '=', row.service_id)
          .where('key', '=', key)
          .executeTakeFirst();
        if ((await usedBytes(trx, row.service_id, key)) + row.size > limit) {
          throw new SwarmError('quota_exceeded', `the instance's storage limit of ${instance.storage_limit_gb} GB would be exceeded`);
        }
        await trx
          .insertInto('blob_objects')
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(['service_id', 'key'])
              .doUpdateSet({ file, size: row.size, content_type: contentType, sha256: row.sha256, updated_at: row.updated_at }),
          )
          .execute();
        return old?.file;
      });
    } catch (error) {
      await unlink(join(dir, file)).catch(() => {});
      throw error;
    }
    if (replaced) await unlink(join(dir, replaced)).catch(() => {});
    return toObject(row);
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
        reply.code(201).send(await put(context, instance, key, request.raw, contentType));
      });
      scope.get('/objects/*', needs('reader'), async (request, reply) => {
        const instance = requestInstance(request);
        const row = await find(instance.service_id, keyOf(request.raw.url ?? ''));
        let handle: Awaited<ReturnType<typeof open>>;
        try {
          handle = await open(join(instanceDir(context, instance.service_id), row.file), 'r');
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
        const row = await find(instance.service_id, key);
        await db.deleteFrom('blob_objects').where('service_id', '=', instance.service_id).where('key', '=', key).execute();
        await unlink(join(instanceDir(context, instance.service_id), row.file)).catch(() => {});
        reply.code(204).send();
      });
      scope.get('/objects', needs('reader'), async (request) => {
        const { prefix } = parseMessage(ListQuery, request.query);
        const rows = await db
          .selectFrom('blob_objects')
          .selectAll()
          .where('service_id', '=', requestInstance(request).service_id)
          .orderBy('key')
          .limit(10_000)
          .execute();
        return { objects: rows.filter((row) => !prefix || row.key.startsWith(prefix)).map(toObject) };
      });
    },

    async wipe(instance, context) {
      await context.db.deleteFrom('blob_objects').where('service_id', '=', instance.service_id).execute();
      await rm(instanceDir(context, instance.service_id), { recursive: true, force: true });
    },

    async usage(instance, context) {
      return { bytes_stored: await usedBytes(context.db, instance.service_id) };
    },
  };
}
