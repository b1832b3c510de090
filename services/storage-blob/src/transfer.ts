import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMessage, SwarmError } from '@swarm/protocol';
import { type DataTransfer, type DomainContext, decodeCursor, encodeCursor, type InstanceInfo } from '@swarm/service-kit';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { storedMetadata } from './metadata.js';
import { parseObjectKey } from './object-key.js';
import type { ObjectRow, Tables } from './tables.js';

/**
 * An object in the `swarm-data/1` format (docs/DATA-TRANSFER.md): its key, content type, user
 * metadata, size, SHA-256 and time, and with data one part of its bytes (`offset`, `data` in
 * base64). An object larger than a page's byte budget comes in several items, in order.
 */
const ObjectRecord = z.strictObject({
  key: z.string().min(1).max(1024),
  content_type: z.string().min(1).max(255),
  metadata: z.record(z.string().regex(/^[a-z0-9_-]{1,128}$/), z.string().max(2048)).nullable(),
  size: z.int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  updated_at: z.int().min(0),
});
const ObjectPart = ObjectRecord.extend({ offset: z.int().min(0), data: z.base64() });
type ObjectRecord = z.infer<typeof ObjectRecord>;
const Parts = z.strictObject({ items: z.array(ObjectPart) });

const CURSOR_FILTER = ['swarm-data/1', 'storage-blob'];
/** `[key, offset]`: go on with `key` from byte `offset`; offset −1: `key` was sent whole, go on after it. */
const Position = z.tuple([z.string(), z.int().min(-1)]);

export interface BlobTransferParts {
  instanceDir(context: DomainContext<Tables>, serviceId: string): string;
  usedBytes(db: Kysely<Tables>, serviceId: string, exceptKey?: string): Promise<number>;
  lockInstance(trx: Kysely<Tables>, serviceId: string): Promise<void>;
  bytesPerGb: number;
}

const recordOf = (row: ObjectRow): ObjectRecord => {
  const metadata = storedMetadata(row.metadata);
  return {
    key: row.key,
    content_type: row.content_type,
    metadata: Object.keys(metadata).length === 0 ? null : metadata,
    size: Number(row.size),
    sha256: row.sha256,
    updated_at: Number(row.updated_at),
  };
};

/** A key as the HTTP routes would have accepted it (no `..` segment, no control character). */
const requireKey = (key: string) => parseObjectKey(key.split('/').map(encodeURIComponent).join('/'));

async function readPart(path: string, offset: number, length: number): Promise<Buffer> {
  const file = await open(path, 'r').catch(() => {
    throw new SwarmError('conflict', 'an object changed while it was read; move again');
  });
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, offset);
    if (bytesRead !== length) throw new SwarmError('conflict', 'an object changed while it was read; move again');
    return buffer;
  } finally {
    await file.close();
  }
}

async function sha256OfFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Objects leave in key order (byte order on both databases), their bytes cut to the page's
 * budget, and come in by key: parts are written at their offset into a staging file named by
 * the object's key and hash (so a repeated page writes the same bytes again), and the last part
 * checks the SHA-256 and stores the object within the instance's limit, under its lock row.
 */
export function blobTransfer(parts: BlobTransferParts): DataTransfer<Tables> {
  const stagingPath = (context: DomainContext<Tables>, serviceId: string, record: ObjectRecord) => {
    const name = createHash('sha256').update(`${serviceId}\n${record.key}\n${record.sha256}`).digest('hex').slice(0, 40);
    return join(context.dataDir, 'tmp', `move-${name}`);
  };

  async function storeWhole(context: DomainContext<Tables>, instance: InstanceInfo, record: ObjectRecord, staged: string) {
    const { db } = context;
    const got = await sha256OfFile(staged);
    if (got.size !== record.size || got.sha256 !== record.sha256) {
      await unlink(staged).catch(() => {});
      throw new SwarmError('conflict', `the bytes of ${record.key} do not match their SHA-256; move again`);
    }
    const dir = parts.instanceDir(context, instance.serviceId);
    mkdirSync(dir, { recursive: true });
    const file = randomUUID();
    await rename(staged, join(dir, file));
    const row: ObjectRow = {
      service_id: instance.serviceId,
      ...record,
      file,
      metadata: record.metadata === null ? null : JSON.stringify(record.metadata),
    };
    let replaced: string | undefined;
    try {
      replaced = await db.transaction().execute(async (trx) => {
        await parts.lockInstance(trx, instance.serviceId);
        if ((await parts.usedBytes(trx, instance.serviceId, record.key)) + record.size > instance.storageLimitGb * parts.bytesPerGb) {
          throw new SwarmError('quota_exceeded', `the new instance's storage limit of ${instance.storageLimitGb} GB is too small`);
        }
        const previous = await trx
          .selectFrom('blob_objects')
          .select('file')
          .where('service_id', '=', instance.serviceId)
          .where('key', '=', record.key)
          .executeTakeFirst();
        const { service_id: _s, key: _k, ...changes } = row;
        await trx
          .insertInto('blob_objects')
          .values(row)
          .onConflict((oc) => oc.columns(['service_id', 'key']).doUpdateSet(changes))
          .execute();
        return previous?.file;
      });
    } catch (error) {
      await unlink(join(dir, file)).catch(() => {});
      throw error;
    }
    if (replaced) await unlink(join(dir, replaced)).catch(() => {});
  }

  return {
    async exportPage(instance, cursor, limits, context) {
      const { db } = context;
      const position = decodeCursor(cursor ?? undefined, Position, CURSOR_FILTER);
      let query = db.selectFrom('blob_objects').selectAll().where('service_id', '=', instance.serviceId);
      if (position) query = query.where('key', position[1] === -1 ? '>' : '>=', position[0]);
      const rows = await query
        .orderBy('key')
        .limit(limits.maxItems + 1)
        .execute();
      const items: Array<Record<string, unknown>> = [];
      let budget = limits.maxBytes;
      let next: string | null = null;
      for (const row of rows) {
        if (items.length >= limits.maxItems) {
          next = encodeCursor([items.length > 0 ? (items.at(-1)?.key as string) : row.key, -1], CURSOR_FILTER);
          break;
        }
        const record = recordOf(row);
        if (!limits.withData) {
          items.push(record);
          continue;
        }
        const start = position && position[1] >= 0 && row.key === position[0] ? position[1] : 0;
        if (start > record.size) throw new SwarmError('conflict', `${record.key} changed while it was sent; move again`);
        // Every page holds at least one part, so a transfer always advances.
        const length = Math.min(record.size - start, Math.max(budget, items.length === 0 ? 1 : 0));
        if (length === 0 && record.size > start) {
          next = encodeCursor([row.key, start], CURSOR_FILTER);
          break;
        }
        const data =
          length === 0 ? Buffer.alloc(0) : await readPart(join(parts.instanceDir(context, instance.serviceId), row.file), start, length);
        items.push({ ...record, offset: start, data: data.toString('base64') });
        budget -= length;
        if (start + length < record.size) {
          next = encodeCursor([row.key, start + length], CURSOR_FILTER);
          break;
        }
      }
      return { items, next };
    },

    async importPage(instance, items, context) {
      const { items: objectParts } = parseMessage(Parts, { items });
      const tmpDir = join(context.dataDir, 'tmp');
      mkdirSync(tmpDir, { recursive: true });
      for (const { offset, data, ...record } of objectParts) {
        requireKey(record.key);
        const bytes = Buffer.from(data, 'base64');
        if (offset + bytes.length > record.size) throw new SwarmError('invalid_request', `a part of ${record.key} goes past its size`);
        const done = await context.db
          .selectFrom('blob_objects')
          .select(['sha256', 'size'])
          .where('service_id', '=', instance.serviceId)
          .where('key', '=', record.key)
          .executeTakeFirst();
        // A page asked for again after a restart: the object it ends is already stored.
        if (
          done &&
          done.sha256 === record.sha256 &&
          Number(done.size) === record.size &&
          offset + bytes.length === record.size &&
          offset > 0
        ) {
          continue;
        }
        // An object that could never fit is refused before any of its bytes are kept.
        if (record.size > instance.storageLimitGb * parts.bytesPerGb) {
          throw new SwarmError('quota_exceeded', `${record.key} is larger than the new instance's storage limit`);
        }
        const staged = stagingPath(context, instance.serviceId, record);
        const file = await open(staged, offset === 0 ? 'w' : 'r+', 0o600).catch(() => {
          throw new SwarmError('conflict', `the first parts of ${record.key} are missing here; move again`);
        });
        try {
          // Parts follow each other (a repeated one overlaps what is there): no gap, so no sparse file of a made-up size.
          if (offset > (await file.stat()).size) throw new SwarmError('conflict', `a part of ${record.key} is missing here; move again`);
          if (bytes.length > 0) await file.write(bytes, 0, bytes.length, offset);
          await file.truncate(offset + bytes.length);
          await file.sync();
        } finally {
          await file.close();
        }
        if (offset + bytes.length === record.size) await storeWhole(context, instance, record, staged);
      }
    },
  };
}
