import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDeveloper, provisionInstance, TestNetwork } from '@swarm/dev-env';
import { type InstanceMoveData, newNonce, nowSeconds, signEnvelope } from '@swarm/protocol';
import { getJson, postJson } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import SQLite from 'better-sqlite3';
import { type BenchResult, result } from './harness.js';

const CONTACTS = 5_000;
const OBJECTS = 16;
const OBJECT_BYTES = 1_000_000;

/**
 * `swarm move`'s transfer (docs/DATA-TRANSFER.md) against reading the same data through the
 * instance's own API in the same run: contacts (items/s; the transfer at 100 per page vs a walk
 * of `GET /contacts?limit=100`) and objects (MB/s; pages of 4 MiB vs `GET` of each object). The
 * transfer writes everything it reads and computes both digests, so it is expected below 1.
 */
export async function benchMove(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-bench-move-'));
  const network = await TestNetwork.create({ dataDir: dir, secondProviders: true });
  try {
    const developer = await createTestDeveloper(network.registry.url);
    const token = await developer.token({ roles: ['editor'] });
    const from = (type: 'crm-contact' | 'storage-blob') => network.services[type] as ServiceHandle;
    const to = (type: 'crm-contact' | 'storage-blob') => network.secondServices[type] as ServiceHandle;

    // Contacts, written straight into the old provider's SQLite file.
    const contacts = await provisionInstance(from('crm-contact'), developer, { service_tier: 'free', region: 'local' });
    const db = new SQLite(join(dir, 'crm-contact', 'crm-contact.db'));
    const insert = db.prepare(
      `INSERT INTO crm_contacts (service_id, id, name, email, email_normalized, company, notes, created_at, updated_at, created_by, updated_by, version)
       VALUES (?, ?, ?, ?, ?, 'Analytical Engines', NULL, 1, 1, 'bench', 'bench', 1)`,
    );
    db.transaction(() => {
      for (let i = 0; i < CONTACTS; i++) {
        const email = `person${i}@example.com`;
        insert.run(contacts.service_id, randomUUID(), `Person ${i}`, email, email);
      }
    })();
    db.close();
    let started = performance.now();
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const url = `${contacts.endpoint_url}/contacts?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = (await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()) as { next_cursor: string | null };
      cursor = page.next_cursor;
    }
    const walkPerSecond = CONTACTS / ((performance.now() - started) / 1000);
    started = performance.now();
    await transfer(to('crm-contact'), from('crm-contact'), developer, contacts.service_id);
    const contactsPerSecond = CONTACTS / ((performance.now() - started) / 1000);

    // Objects, uploaded through the API.
    const objects = await provisionInstance(from('storage-blob'), developer, { service_tier: 'free', region: 'local' });
    for (let i = 0; i < OBJECTS; i++) {
      await fetch(`${objects.endpoint_url}/objects/bench/${i}.bin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: randomBytes(OBJECT_BYTES),
      });
    }
    started = performance.now();
    for (let i = 0; i < OBJECTS; i++) {
      await (
        await fetch(`${objects.endpoint_url}/objects/bench/${i}.bin`, { headers: { authorization: `Bearer ${token}` } })
      ).arrayBuffer();
    }
    const readMbPerSecond = (OBJECTS * OBJECT_BYTES) / 1e6 / ((performance.now() - started) / 1000);
    started = performance.now();
    await transfer(to('storage-blob'), from('storage-blob'), developer, objects.service_id);
    const movedMbPerSecond = (OBJECTS * OBJECT_BYTES) / 1e6 / ((performance.now() - started) / 1000);

    return [
      result(
        `move: ${CONTACTS} contacts between two crm-contact providers`,
        contactsPerSecond,
        'items/s',
        'reading them through GET /contacts, 100 per page',
        walkPerSecond,
        null,
        'the transfer also writes each item and computes both digests',
      ),
      result(
        `move: ${OBJECTS} objects of 1 MB between two storage-blob providers`,
        movedMbPerSecond,
        'MB/s',
        'reading them through GET /objects/{key}',
        readMbPerSecond,
        null,
        'pages of 4 MiB in base64; each object written, fsynced and hashed at the new provider',
      ),
    ];
  } finally {
    await network.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Provisions an instance at `target`, starts the transfer from `serviceId` and waits until it is done. */
async function transfer(
  target: ServiceHandle,
  source: ServiceHandle,
  developer: Awaited<ReturnType<typeof createTestDeveloper>>,
  serviceId: string,
): Promise<void> {
  const destination = await provisionInstance(target, developer, { service_tier: 'free', region: 'local' });
  const move: InstanceMoveData = {
    app_id: developer.appId,
    service_id: serviceId,
    source_provider: source.provider,
    target_provider: target.provider,
    new_service_id: destination.service_id,
    timestamp: nowSeconds(),
    nonce: newNonce(),
    context: 'instance_move',
  };
  const url = `${target.catalogEntry.provision_url}/${destination.service_id}/import`;
  const started = await postJson(url, signEnvelope('instance_move', move, developer.master.privateKey));
  if (started.status !== 202) throw new Error(`import answered ${started.status}: ${JSON.stringify(started.body)}`);
  for (;;) {
    const status = (await getJson(url)).body as { status: string };
    if (status.status === 'done') return;
    if (status.status !== 'running') throw new Error(`transfer ended ${JSON.stringify(status)}`);
    await sleep(20);
  }
}
