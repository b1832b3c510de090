import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDeveloper, provisionInstance, TestNetwork } from '@swarm/dev-env';
import SQLite from 'better-sqlite3';
import { type BenchResult, result } from './harness.js';
import { compareHttp, type LoadRequest, spreadOf } from './http-load.js';

const PAGE = 100;
const PAGES_WALKED = 20;

/** A swarm whose storage-blob instance holds `objects` objects (rows written straight into its SQLite file). */
async function swarmWithObjects(dir: string, objects: number) {
  const network = await TestNetwork.create({ dataDir: dir });
  const service = network.services['storage-blob'];
  if (!service) throw new Error('no storage-blob service');
  const developer = await createTestDeveloper(network.registry.url);
  const instance = await provisionInstance(service, developer);
  const token = await developer.token();
  const db = new SQLite(join(dir, 'storage-blob', 'storage-blob.db'));
  const insert = db.prepare(
    `INSERT INTO blob_objects (service_id, key, file, size, content_type, sha256, updated_at, metadata)
     VALUES (?, ?, ?, 1, 'application/octet-stream', ?, 1, NULL)`,
  );
  db.transaction(() => {
    // Keys in folders, as applications name them: `photos/<n>/<uuid>.jpg`.
    for (let i = 0; i < objects; i++) insert.run(instance.service_id, `photos/${i % 97}/${randomUUID()}.jpg`, randomUUID(), '0'.repeat(64));
  })();
  db.close();
  // The first pages of the listing, each request another cursor: pages deep in the walk, not one cached answer.
  const path = new URL(instance.endpoint_url).pathname;
  const requests: LoadRequest[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < PAGES_WALKED; i++) {
    const page = `${path}/objects?prefix=photos%2F&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    requests.push({ path: page, headers: { authorization: `Bearer ${token}` } });
    const answer = (await (await fetch(`${service.url}${page}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      next_cursor: string | null;
    };
    cursor = answer.next_cursor;
    if (cursor === null) break;
  }
  return { network, url: service.url, requests };
}

/** One page of `GET /objects` (100 entries) at 100 000 objects vs at 100: keyset paging on the index keeps it flat. */
export async function benchBlobListing(): Promise<BenchResult[]> {
  const largeDir = mkdtempSync(join(tmpdir(), 'swarm-bench-list-large-'));
  const smallDir = mkdtempSync(join(tmpdir(), 'swarm-bench-list-small-'));
  const large = await swarmWithObjects(largeDir, 100_000);
  const small = await swarmWithObjects(smallDir, 100);
  try {
    const comparison = await compareHttp({ url: large.url, requests: large.requests }, { url: small.url, requests: small.requests });
    return [
      result(
        `storage-blob listing page (${PAGE} objects, prefix, cursor) at 100 000 objects`,
        comparison.subject.perSecond,
        'req/s',
        'same listing at 100 objects',
        comparison.baseline.perSecond,
        0.8,
        `p99 ${comparison.subject.p99Ms} ms vs ${comparison.baseline.p99Ms} ms; ${spreadOf(comparison.ratios)}`,
      ),
    ];
  } finally {
    await large.network.close();
    await small.network.close();
    rmSync(largeDir, { recursive: true, force: true });
    rmSync(smallDir, { recursive: true, force: true });
  }
}
