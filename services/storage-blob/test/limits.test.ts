import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { callApi, createTestDeveloper, provisionInstance, type TestDeveloper, trustedRegistryOf } from '@swarm/dev-env';
import { generateSigningKey } from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { dropPostgresSchema, ensurePostgresSchema, LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { startStorageBlob } from '../src/index.js';
import { type BlobSetup, startBlobSetup } from './helpers.js';

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// One "GB" is 1 MB here, so a free instance holds 1 MB.
const LIMIT = 1_000_000;

/** Bytes in every file under `dir` (temp files of uploads in flight included). */
function bytesOnDisk(dir: string): number {
  let total = 0;
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (!entry.name.endsWith('.db') && !entry.name.includes('.db-') && !entry.name.endsWith('.pem')) total += statSync(full).size;
    }
  };
  walk(dir);
  return total;
}

/** A PUT written by hand, so the test decides when (and whether) the body ends. */
class RawUpload {
  readonly socket: Socket;
  response = '';
  readonly closed: Promise<void>;
  constructor(endpoint: string, key: string, token: string, headers: Record<string, string>) {
    const url = new URL(`${endpoint}/objects/${key}`);
    this.socket = connect({ host: url.hostname, port: Number(url.port) });
    this.socket.on('data', (chunk) => {
      this.response += chunk.toString();
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    const lines = [`PUT ${url.pathname} HTTP/1.1`, `host: ${url.host}`, `authorization: Bearer ${token}`];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  }
  /** One chunk of a chunked body. */
  chunk(bytes: number): void {
    if (!this.socket.destroyed) this.socket.write(`${bytes.toString(16)}\r\n${'x'.repeat(bytes)}\r\n`);
  }
  get status(): number {
    return Number(this.response.split(' ')[1] ?? 0);
  }
  get body(): unknown {
    const at = this.response.indexOf('\r\n\r\n');
    try {
      return JSON.parse(this.response.slice(at + 4));
    } catch {
      return null;
    }
  }
  header(name: string): string | undefined {
    const line = this.response.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name}:`));
    return line?.slice(name.length + 1).trim();
  }
  end(): void {
    this.socket.destroy();
  }
}

/** Waits until `check` holds, up to `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(25);
  }
  return check();
}

/** The server answered `422 quota_exceeded` on its own (the body not finished) and closed the connection. */
async function expectQuotaRefusalAndClose(upload: RawUpload, whenSilent: string): Promise<void> {
  const answered = await until(() => upload.status !== 0);
  assert.ok(answered, whenSilent);
  assert.equal(upload.status, 422);
  assert.equal(code(upload.body), 'quota_exceeded');
  await Promise.race([upload.closed, sleep(5000)]);
  assert.ok(upload.socket.destroyed || upload.socket.readableEnded, 'the connection is closed');
}

describe('storage-blob limits', () => {
  let setup: BlobSetup;
  let dataDir: string;
  let service: ServiceHandle;
  let developer: TestDeveloper;
  let token: string;
  const fresh = async () => (await provisionInstance(service, developer, { service_tier: 'free' })).endpoint_url;

  before(async () => {
    setup = await startBlobSetup('limits', { bytesPerGb: LIMIT });
    ({ dataDir, service, developer } = setup);
    token = await developer.token();
  });
  after(() => setup?.close());

  it('answers an over-quota Content-Length at once, before any body, and closes the connection', async () => {
    const endpoint = await fresh();
    const upload = new RawUpload(endpoint, 'big', token, {
      'content-type': 'application/octet-stream',
      'content-length': String(LIMIT + 1),
    });
    await expectQuotaRefusalAndClose(upload, 'no answer while the body is still to come');
    upload.end();
  });

  it('stops reading a streamed body once it goes over quota, answers and closes', async () => {
    const endpoint = await fresh();
    const upload = new RawUpload(endpoint, 'stream', token, {
      'content-type': 'application/octet-stream',
      'transfer-encoding': 'chunked',
    });
    for (let i = 0; i < 12; i++) upload.chunk(100_000);
    // The body never ends: the server must answer on its own.
    await expectQuotaRefusalAndClose(upload, 'no answer while the client keeps the body open');
    upload.end();
    const list = await callApi(`${endpoint}/objects`, token);
    assert.deepEqual((list.body as { objects: unknown[] }).objects, []);
  });

  it('keeps parallel stalled uploads of one instance within its limit on disk', async () => {
    const endpoint = await fresh();
    const before = bytesOnDisk(dataDir);
    const uploads = Array.from(
      { length: 4 },
      (_, i) =>
        new RawUpload(endpoint, `stalled-${i}`, token, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }),
    );
    for (let round = 0; round < 5; round++) {
      for (const upload of uploads) upload.chunk(100_000);
      await sleep(100);
    }
    // Each sent 500 KB and stalls; together they would hold 2 MB of a 1 MB instance.
    await sleep(500);
    const held = bytesOnDisk(dataDir) - before;
    const refused = uploads.filter((u) => u.status === 422).length;
    for (const upload of uploads) upload.end();
    assert.ok(held <= LIMIT, `${held} bytes on disk for a ${LIMIT}-byte instance`);
    assert.ok(refused >= 2, `${refused} of 4 uploads were refused`);
    assert.ok(
      uploads.filter((u) => u.status === 422).every((u) => code(u.body) === 'quota_exceeded'),
      'refused as quota_exceeded',
    );
  });

  it('caps the uploads one instance has in flight with 429 rate_limited and Retry-After', async () => {
    const endpoint = await fresh();
    const stalled = Array.from(
      { length: 4 },
      (_, i) => new RawUpload(endpoint, `slow-${i}`, token, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }),
    );
    for (const upload of stalled) upload.chunk(10);
    await sleep(300);
    const extra = new RawUpload(endpoint, 'one-more', token, { 'content-type': 'application/octet-stream', 'content-length': '5' });
    assert.ok(await until(() => extra.status !== 0), 'no answer for the upload past the cap');
    assert.equal(extra.status, 429);
    assert.equal(code(extra.body), 'rate_limited');
    assert.ok(Number(extra.header('retry-after')) >= 1, 'Retry-After says when to come back');
    extra.end();
    // Another instance is not held up by this one's uploads.
    const other = await fresh();
    assert.equal((await callApi(`${other}/objects/ok`, token, { method: 'PUT', body: 'fine' })).status, 201);
    for (const upload of stalled) upload.end();
    // Once they are gone the instance takes uploads again.
    assert.ok(
      await until(() => false, 300).then(
        async () => (await callApi(`${endpoint}/objects/after`, token, { method: 'PUT', body: 'x' })).status === 201,
      ),
    );
  });
});

const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

describe('storage-blob quota on PostgreSQL with two replicas', { skip: postgresUrl ? false : 'SWARM_TEST_POSTGRES_URL is not set' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-blob-pg-'));
  const schema = `blob_quota_${process.pid}`;
  let registry: RegistryHandle;
  let replicas: ServiceHandle[] = [];
  let developer: TestDeveloper;

  before(async () => {
    const url = postgresUrl as string;
    await ensurePostgresSchema(url, schema);
    registry = await startRegistry({
      port: 0,
      dataDir: join(dir, 'registry'),
      dnsPort: false,
      logLevel: false,
      egress: { allow: LOOPBACK_CIDRS },
    });
    const providerKey = generateSigningKey();
    for (const name of ['one', 'two']) {
      replicas.push(
        await startStorageBlob({
          port: 0,
          dataDir: join(dir, name),
          databaseUrl: url,
          databaseSchema: schema,
          providerKey,
          trustedRegistries: [trustedRegistryOf(registry)],
          logLevel: false,
          egress: { allow: LOOPBACK_CIDRS },
          bytesPerGb: LIMIT,
          maxParallelUploads: 16,
        }),
      );
    }
    await replicas[0]?.registerOffer(registry.url, registry.adminToken);
    developer = await createTestDeveloper(registry.url);
  });
  after(async () => {
    for (const replica of replicas) await replica.close();
    replicas = [];
    await registry?.close();
    await dropPostgresSchema(postgresUrl as string, schema);
    rmSync(dir, { recursive: true, force: true });
  });

  it('concurrent uploads through both replicas never store more than the limit', async () => {
    const [one, two] = replicas as [ServiceHandle, ServiceHandle];
    const token = await developer.token();
    for (let round = 0; round < 3; round++) {
      const instance = await provisionInstance(one, developer, { service_tier: 'free' });
      const path = new URL(instance.endpoint_url).pathname;
      const bases = [one.url, two.url];
      const size = 300_000;
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          callApi(`${bases[i % 2]}${path}/objects/part-${i}`, token, { method: 'PUT', body: Buffer.alloc(size, i) }),
        ),
      );
      const stored = answers.filter((a) => a.status === 201).length;
      for (const answer of answers)
        if (answer.status !== 201) assert.equal(code(answer.body), 'quota_exceeded', JSON.stringify(answer.body));
      assert.ok(stored * size <= LIMIT, `round ${round}: ${stored} uploads of ${size} bytes stored in a ${LIMIT}-byte instance`);
      const listed = (await callApi(`${one.url}${path}/objects`, token)).body as { objects: Array<{ size: number }> };
      assert.ok(listed.objects.reduce((sum, o) => sum + o.size, 0) <= LIMIT);
    }
  });
});
