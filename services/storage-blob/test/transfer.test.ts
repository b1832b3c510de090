import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import { type Database, openDatabase } from '@swarm/runtime';
import { type DataTransfer, type DomainContext, domainContext, type InstanceInfo, migrateDomain } from '@swarm/service-kit';
import fc from 'fast-check';
import { createBlobDomain } from '../src/blobs.js';
import type { Tables } from '../src/tables.js';

/** storage-blob's item mapping for `swarm move` (docs/DATA-TRANSFER.md), against a real SQLite file and folder. */
describe('storage-blob: objects leave and come in as swarm-data/1 items', () => {
  const KB = 1000;
  const domain = createBlobDomain({ bytesPerGb: 1000 * KB });
  const transfer = domain.transfer as DataTransfer<Tables>;
  let dir: string;
  let database: Database<unknown>;
  let context: DomainContext<Tables>;
  let counter = 0;
  const instance = (storageLimitGb = 1): InstanceInfo => ({
    serviceId: `storage-blob-${String(counter++).padStart(10, '0')}`,
    appId: 'local.swarm.alice.blog.k3j9x0d2ab',
    serviceTier: 'free',
    region: 'local',
    storageLimitGb,
  });
  const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const whole = (key: string, bytes: Buffer, fields: Record<string, unknown> = {}) => ({
    key,
    content_type: 'application/octet-stream',
    metadata: null,
    size: bytes.length,
    sha256: sha(bytes),
    updated_at: 1_700_000_000,
    offset: 0,
    data: bytes.toString('base64'),
    ...fields,
  });
  const refused = (code: string) => (error: unknown) => error instanceof SwarmError && error.code === code;

  /** Every page of an instance, with `maxBytes` of object bytes per page. */
  async function exportAll(from: InstanceInfo, maxBytes: number, withData = true) {
    const pages: Array<Array<Record<string, unknown>>> = [];
    let cursor: string | null = null;
    do {
      const page = await transfer.exportPage(from, cursor, { maxItems: 3, maxBytes, withData }, context);
      pages.push(page.items);
      cursor = page.next;
    } while (cursor !== null);
    return pages;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-blob-transfer-'));
    database = openDatabase<unknown>({ file: join(dir, 'storage-blob.db') });
    await migrateDomain(database, 'storage-blob', domain.migrations);
    context = domainContext<Tables>(database, dir, () => 'http://127.0.0.1:9/i/x/api/v1');
  });
  after(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('any set of objects, cut into pages of any size, comes in byte for byte with the same records', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({ key: fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8})?$/), bytes: fc.uint8Array({ maxLength: 3000 }) }),
          {
            selector: (o) => o.key,
            maxLength: 6,
          },
        ),
        fc.integer({ min: 1, max: 4000 }),
        async (objects, maxBytes) => {
          const from = instance();
          const to = instance();
          await transfer.importPage(
            from,
            objects.map((o) => whole(o.key, Buffer.from(o.bytes))),
            context,
          );
          for (const page of await exportAll(from, maxBytes)) await transfer.importPage(to, page, context);
          assert.deepEqual(await exportAll(to, 1_000_000, false), await exportAll(from, 1_000_000, false));
          assert.deepEqual(await exportAll(to, 1_000_000), await exportAll(from, 1_000_000));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a page written twice changes nothing (a resume after a stop between writing and committing)', async () => {
    const from = instance();
    const to = instance();
    const bytes = Buffer.alloc(2500, 7);
    await transfer.importPage(from, [whole('a', bytes), whole('b', Buffer.from('bee'))], context);
    const pages = await exportAll(from, 1000);
    assert.ok(pages.length >= 3, 'the object came in parts');
    for (const page of pages) {
      await transfer.importPage(to, page, context);
      await transfer.importPage(to, page, context);
    }
    assert.deepEqual(await exportAll(to, 1_000_000), await exportAll(from, 1_000_000));
  });

  it('refuses bytes that do not match their SHA-256, a part after a gap, a part past the size, a bad key, an object over the limit', async () => {
    const to = instance();
    const bytes = Buffer.from('hello world');
    await assert.rejects(transfer.importPage(to, [whole('x', bytes, { sha256: sha(Buffer.from('other')) })], context), refused('conflict'));
    await assert.rejects(
      transfer.importPage(to, [whole('y', bytes.subarray(5), { size: bytes.length, sha256: sha(bytes), offset: 5 })], context),
      refused('conflict'),
    );
    await assert.rejects(transfer.importPage(to, [whole('z', bytes, { size: 3 })], context), refused('invalid_request'));
    await assert.rejects(transfer.importPage(to, [whole('../up', bytes)], context), refused('invalid_request'));
    await assert.rejects(transfer.importPage(to, [{ ...whole('k', bytes), extra: true }], context), refused('invalid_request'));
    await assert.rejects(transfer.importPage(instance(0), [whole('big', bytes)], context), refused('quota_exceeded'));
    assert.deepEqual(await exportAll(to, 1000), [[]], 'nothing was stored');
  });

  it('refuses a cursor it did not make', async () => {
    await assert.rejects(
      transfer.exportPage(instance(), 'bm90LWEtY3Vyc29y', { maxItems: 3, maxBytes: 10, withData: true }, context),
      refused('invalid_request'),
    );
  });
});
