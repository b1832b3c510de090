import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { callApi, type ProvisionedInstance, provisionInstance } from '@swarm/dev-env';
import { dropPostgresSchema, ensurePostgresSchema, openDatabase } from '@swarm/runtime';
import { kitDatabaseFile } from '@swarm/service-kit';
import fc from 'fast-check';
import { type BlobSetup, startBlobSetup } from './helpers.js';

const code = (body: unknown) => (body as { error?: { code?: string } } | null)?.error?.code;
const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

type Listing = { objects: Array<{ key: string }>; common_prefixes?: string[]; next_cursor: string | null };

/** Byte order of UTF-8, the order object stores list keys in (not JavaScript's UTF-16 order). */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** What S3's ListObjectsV2 answers for these keys, computed here without the server. */
function model(keys: string[], prefix: string, delimiter?: string) {
  const objects: string[] = [];
  const prefixes = new Set<string>();
  for (const key of [...keys].sort(byteOrder)) {
    if (!key.startsWith(prefix)) continue;
    const at = delimiter === undefined ? -1 : key.indexOf(delimiter, prefix.length);
    if (at < 0) objects.push(key);
    else prefixes.add(key.slice(0, at + (delimiter as string).length));
  }
  return { objects, commonPrefixes: [...prefixes] };
}

function blobProductSuite(name: string, storage: 'sqlite' | 'postgres') {
  const skip = storage === 'postgres' && !postgresUrl ? 'SWARM_TEST_POSTGRES_URL is not set' : false;
  describe(name, { skip }, () => {
    const schema = `blob_products_${process.pid}`;
    let setup: BlobSetup;
    let instance: ProvisionedInstance;
    let other: ProvisionedInstance;
    let token: string;
    let readerToken: string;
    const objectUrl = (key: string) => `${instance.endpoint_url}/objects/${key.split('/').map(encodeURIComponent).join('/')}`;

    /** Rows straight into the service's database: listings read only rows, and 3 000 uploads would only slow the test. */
    async function seed(serviceId: string, keys: string[]) {
      const database = openDatabase<{ blob_objects: Record<string, unknown> }>(
        storage === 'postgres' ? { url: postgresUrl, schema } : { file: kitDatabaseFile(setup.dataDir, 'storage-blob') },
      );
      try {
        for (let i = 0; i < keys.length; i += 500) {
          const rows = keys.slice(i, i + 500).map((key) => ({
            service_id: serviceId,
            key,
            file: randomUUID(),
            size: 0,
            content_type: 'application/octet-stream',
            sha256: '0'.repeat(64),
            updated_at: 1,
            metadata: null,
          }));
          await database.db.insertInto('blob_objects').values(rows).execute();
        }
      } finally {
        await database.close();
      }
    }

    async function walk(query: string, limit: number, during?: (page: number) => Promise<void>) {
      const objects: string[] = [];
      const prefixes: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10_000; page++) {
        const url = `${instance.endpoint_url}/objects?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const answer = await callApi(url, token);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        const body = answer.body as Listing;
        assert.ok(body.objects.length + (body.common_prefixes?.length ?? 0) <= limit, 'a page holds at most limit entries');
        objects.push(...body.objects.map((o) => o.key));
        prefixes.push(...(body.common_prefixes ?? []));
        await during?.(page);
        cursor = body.next_cursor;
        if (cursor === null) return { objects, prefixes };
      }
      throw new Error('the walk did not end');
    }

    before(async () => {
      if (storage === 'postgres') await ensurePostgresSchema(postgresUrl as string, schema);
      setup = await startBlobSetup(
        'products',
        storage === 'postgres' ? { databaseUrl: postgresUrl, databaseSchema: schema, maxParallelUploads: 16 } : { maxParallelUploads: 16 },
      );
      instance = await provisionInstance(setup.service, setup.developer);
      other = await provisionInstance(setup.service, setup.developer);
      token = await setup.developer.token();
      readerToken = await setup.developer.token({ roles: ['reader'] });
    });
    after(async () => {
      await setup?.close();
      if (storage === 'postgres') await dropPostgresSchema(postgresUrl as string, schema);
    });

    it('lists 3 000 keys with prefix and delimiter exactly as a model of ListObjectsV2, page by page', async () => {
      // Characters whose UTF-16 order differs from their byte order (U+E000 against an emoji) and a multi-character delimiter.
      const alphabet = ['a', 'b', 'é', '\uE000', '😀', '-', '.', 'z'];
      const random = fc.sample(fc.array(fc.constantFrom(...alphabet, '/'), { minLength: 1, maxLength: 9 }), { numRuns: 6000, seed: 19 });
      const keys = [...new Set(random.map((chars) => chars.join('')).filter((key) => !key.split('/').includes('')))].slice(0, 3000);
      assert.equal(keys.length, 3000);
      await seed(other.service_id, ['a/not-mine']);
      await seed(instance.service_id, keys);
      const cases: Array<[string, string | undefined, number]> = [
        ['', undefined, 1000],
        ['', '/', 37],
        ['a', '/', 11],
        ['a/', '/', 5],
        ['é', '/', 3],
        ['\uE000', '-', 50],
        ['b', 'a/', 7],
        ['zzz-none', '/', 10],
      ];
      for (const [prefix, delimiter, limit] of cases) {
        const query = `prefix=${encodeURIComponent(prefix)}${delimiter ? `&delimiter=${encodeURIComponent(delimiter)}` : ''}`;
        const seen = await walk(query, limit);
        const expected = model(keys, prefix, delimiter);
        assert.deepEqual(seen.objects, expected.objects, `objects of ${query}`);
        assert.deepEqual(seen.prefixes, expected.commonPrefixes, `common prefixes of ${query}`);
      }
      // Without a delimiter the answer carries no common_prefixes at all.
      const plain = (await callApi(`${instance.endpoint_url}/objects?limit=1`, token)).body as Listing;
      assert.equal(plain.common_prefixes, undefined);
      assert.equal(typeof plain.next_cursor, 'string');
    });

    it('a walk sees every key that stays exactly once while others are added and removed', async () => {
      const keys = Array.from({ length: 300 }, (_, i) => `walk/${String(i).padStart(4, '0')}`);
      await seed(instance.service_id, keys);
      const removed = new Set<string>();
      const seen = await walk('prefix=walk%2F', 25, async (page) => {
        await callApi(objectUrl(`walk/${String(page * 20).padStart(4, '0')}x`), token, { method: 'PUT', body: 'new' });
        const gone = `walk/${String(299 - page).padStart(4, '0')}`;
        await callApi(objectUrl(gone), token, { method: 'DELETE' });
        removed.add(gone);
      });
      const kept = keys.filter((key) => !removed.has(key));
      for (const key of kept) assert.equal(seen.objects.filter((k) => k === key).length, 1, key);
      assert.equal(new Set(seen.objects).size, seen.objects.length, 'no key twice');
    });

    it('serves its OpenAPI description without a token', async () => {
      const answer = await fetch(`${setup.service.url}/openapi.json`);
      assert.equal(answer.status, 200);
      const description = (await answer.json()) as { openapi: string; info: { title: string }; paths: Record<string, unknown> };
      assert.equal(description.info.title, 'storage-blob');
      assert.match(description.openapi, /^3\./);
      assert.ok(description.paths['/objects/{key}']);
    });

    it('refuses bad limits and cursors with invalid_request, never a failure', async () => {
      const list = (query: string) => callApi(`${instance.endpoint_url}/objects?${query}`, token);
      for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=-1', 'limit=1&limit=2', 'cursor=%%%', 'cursor=e30', 'delimiter=']) {
        const answer = await list(query);
        assert.equal(answer.status, 400, query);
        assert.equal(code(answer.body), 'invalid_request', query);
      }
      const page = (await list('prefix=walk%2F&limit=2')).body as Listing;
      const elsewhere = await list(`prefix=a&limit=2&cursor=${encodeURIComponent(page.next_cursor as string)}`);
      assert.equal(elsewhere.status, 400, 'a cursor resumes only the listing it came from');
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 300 }), async (cursor) => {
          const answer = await list(`cursor=${encodeURIComponent(cursor)}`);
          assert.ok(answer.status === 400 || answer.status === 200, `${answer.status} for ${JSON.stringify(cursor)}`);
        }),
        { numRuns: 40 },
      );
    });

    it('serves ranges at the edges: first byte, last byte, suffix, open end, past the end', async () => {
      const url = objectUrl('ranges/hello.txt');
      assert.equal((await callApi(url, token, { method: 'PUT', body: 'hello world', contentType: 'text/plain' })).status, 201);
      const get = (range: string, extra: Record<string, string> = {}) =>
        fetch(url, { headers: { authorization: `Bearer ${token}`, range, ...extra } });
      const expectRange = async (range: string, body: string, contentRange: string) => {
        const answer = await get(range);
        assert.equal(answer.status, 206, range);
        assert.equal(await answer.text(), body, range);
        assert.equal(answer.headers.get('content-range'), contentRange, range);
        assert.equal(answer.headers.get('content-length'), String(Buffer.byteLength(body)), range);
      };
      await expectRange('bytes=0-0', 'h', 'bytes 0-0/11');
      await expectRange('bytes=10-10', 'd', 'bytes 10-10/11');
      await expectRange('bytes=10-', 'd', 'bytes 10-10/11');
      await expectRange('bytes=-3', 'rld', 'bytes 8-10/11');
      await expectRange('bytes=-50', 'hello world', 'bytes 0-10/11');
      await expectRange('bytes=6-999', 'world', 'bytes 6-10/11');
      for (const range of ['bytes=11-', 'bytes=11-20', 'bytes=-0']) {
        const answer = await get(range);
        assert.equal(answer.status, 416, range);
        assert.equal(answer.headers.get('content-range'), 'bytes */11', range);
        assert.equal(code(await answer.json()), 'range_not_satisfiable');
      }
      // Ranges this server does not serve are ignored, as RFC 9110 allows: the whole object.
      for (const range of ['bytes=0-1,3-4', 'bytes=x-y', 'items=0-1', 'bytes=5-2']) {
        const answer = await get(range);
        assert.equal(answer.status, 200, range);
        assert.equal(await answer.text(), 'hello world', range);
      }
      const etag = (await get('bytes=0-0')).headers.get('etag') as string;
      const stale = await get('bytes=0-0', { 'if-range': '"other"' });
      assert.equal(stale.status, 200, 'a stale If-Range sends the whole object');
      assert.equal(await stale.text(), 'hello world');
      assert.equal((await get('bytes=0-0', { 'if-range': etag })).status, 206);
    });

    it('answers conditional reads and writes: 304, 412 and the validators', async () => {
      const url = objectUrl('cond/a.txt');
      const put = await callApi(url, token, { method: 'PUT', body: 'one', contentType: 'text/plain' });
      const etag = put.headers.get('etag') as string;
      assert.match(etag, /^"[0-9a-f]{64}"$/);
      const get = (headers: Record<string, string>, method = 'GET') =>
        fetch(url, { method, headers: { authorization: `Bearer ${token}`, ...headers } });
      const plain = await get({});
      assert.equal(plain.headers.get('etag'), etag);
      assert.equal(plain.headers.get('content-type'), 'text/plain');
      assert.equal(plain.headers.get('accept-ranges'), 'bytes');
      const lastModified = plain.headers.get('last-modified') as string;
      assert.ok(!Number.isNaN(Date.parse(lastModified)));
      assert.equal((await get({ 'if-none-match': etag })).status, 304);
      assert.equal((await get({ 'if-none-match': `"x", ${etag}` })).status, 304);
      assert.equal((await get({ 'if-none-match': '*' })).status, 304);
      assert.equal((await get({ 'if-none-match': '"x"' })).status, 200);
      assert.equal((await get({ 'if-match': etag })).status, 200);
      assert.equal((await get({ 'if-match': '"x"' })).status, 412);
      assert.equal((await get({ 'if-match': `W/${etag}` })).status, 412, 'If-Match compares strongly');
      assert.equal((await get({ 'if-modified-since': lastModified })).status, 304);
      assert.equal((await get({ 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' })).status, 412);
      assert.equal((await get({ 'if-none-match': etag }, 'HEAD')).status, 304);
      for (const bad of ['no-quotes', '"a', 'W/x']) {
        const answer = await get({ 'if-match': bad });
        assert.equal(answer.status, 400, bad);
        assert.equal(code(await answer.json()), 'invalid_request');
      }

      const write = (body: string, headers: Record<string, string>, method = 'PUT') =>
        fetch(url, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', ...headers },
          body: method === 'PUT' ? body : null,
        });
      const refused = await write('two', { 'if-match': '"stale"' });
      assert.equal(refused.status, 412);
      assert.equal(code(await refused.json()), 'precondition_failed');
      assert.equal(await (await get({})).text(), 'one', 'a refused write changes nothing');
      assert.equal((await write('two', { 'if-none-match': '*' })).status, 412, 'If-None-Match: * refuses to replace');
      const replaced = await write('two', { 'if-match': etag });
      assert.equal(replaced.status, 201);
      assert.equal((await write('three', { 'if-match': etag })).status, 412, 'the old tag no longer matches');
      assert.equal((await write('', { 'if-match': etag }, 'DELETE')).status, 412);
      assert.equal((await write('', { 'if-match': replaced.headers.get('etag') as string }, 'DELETE')).status, 204);
      const created = await fetch(objectUrl('cond/new.txt'), {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'if-none-match': '*' },
        body: 'fresh',
      });
      assert.equal(created.status, 201, 'If-None-Match: * creates what is absent');
      const missing = await fetch(objectUrl('cond/absent.txt'), {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'if-match': '*' },
        body: 'x',
      });
      assert.equal(missing.status, 412, 'If-Match: * needs an object');
    });

    it('stores a JSON document as bytes, unparsed', async () => {
      const text = '{"a": 1, "a": 2, "__proto__": {}}';
      const url = objectUrl('docs/odd.json');
      assert.equal((await callApi(url, token, { method: 'PUT', body: text, contentType: 'application/json' })).status, 201);
      const got = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(got.headers.get('content-type'), 'application/json');
      assert.equal(await got.text(), text);
      const big = 'x'.repeat(200_000);
      assert.equal(
        (await callApi(objectUrl('docs/big.json'), token, { method: 'PUT', body: big, contentType: 'application/json' })).status,
        201,
      );
      assert.equal(
        (await callApi(`${instance.endpoint_url}/presign`, token, { method: 'POST', body: big, contentType: 'application/json' })).status,
        413,
      );
    });

    it('keeps content type and user metadata and answers HEAD without a body', async () => {
      const url = objectUrl('meta/photo.jpg');
      const put = await fetch(url, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'image/jpeg',
          'x-swarm-meta-camera': 'X100',
          'x-swarm-meta-taken-at': '2024-01-01',
        },
        body: 'jpegbytes',
      });
      assert.equal(put.status, 201);
      assert.deepEqual(((await put.json()) as { metadata: unknown }).metadata, { camera: 'X100', 'taken-at': '2024-01-01' });
      const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '9');
      assert.equal(head.headers.get('content-type'), 'image/jpeg');
      assert.equal(head.headers.get('x-swarm-meta-camera'), 'X100');
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      const got = await callApi(url, token);
      assert.equal(got.headers.get('x-swarm-meta-taken-at'), '2024-01-01');
      const tooMuch = await fetch(objectUrl('meta/big'), {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'x-swarm-meta-big': 'x'.repeat(3000) },
        body: 'x',
      });
      assert.equal(tooMuch.status, 400);
      assert.equal(code(await tooMuch.json()), 'invalid_request');
      assert.equal((await callApi(objectUrl('meta/big'), token)).status, 404, 'nothing of a refused upload is kept');
    });

    it('streams a large download and serves a range from its middle', async () => {
      const bytes = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
      const url = objectUrl('big/blob.bin');
      assert.equal((await callApi(url, token, { method: 'PUT', body: bytes })).status, 201);
      const whole = await callApi(url, token);
      assert.ok(whole.bytes.equals(bytes));
      const part = await fetch(url, { headers: { authorization: `Bearer ${token}`, range: 'bytes=1048576-2097151' } });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1048576, 2097152)));
    });

    it('presigned URLs: work by plain HTTP, then not after expiry, nor for another object, method or instance', async () => {
      const url = objectUrl('shared/report.pdf');
      assert.equal((await callApi(url, token, { method: 'PUT', body: 'pdf bytes', contentType: 'application/pdf' })).status, 201);
      const presign = (json: unknown, as = readerToken) => callApi(`${instance.endpoint_url}/presign`, as, { method: 'POST', json });
      const answer = await presign({ key: 'shared/report.pdf', method: 'GET', expires_in: 60 });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const signed = answer.body as { url: string; method: string; expires_at: number };
      assert.ok(signed.url.startsWith(`${instance.endpoint_url}/objects/shared/report.pdf?`));
      const plain = await fetch(signed.url);
      assert.equal(plain.status, 200);
      assert.equal(await plain.text(), 'pdf bytes');
      assert.equal((await fetch(signed.url, { headers: { range: 'bytes=0-2' } })).status, 206);

      const refused = async (target: string, init: RequestInit = {}) => {
        const got = await fetch(target, init);
        assert.equal(got.status, 401, `${init.method ?? 'GET'} ${target}`);
        if (init.method !== 'HEAD') assert.equal(code(await got.json()), 'invalid_token');
      };
      await refused(signed.url.replace('report.pdf', 'other.pdf'));
      await refused(signed.url, { method: 'HEAD' });
      await refused(signed.url, { method: 'PUT', body: 'overwrite' });
      await refused(signed.url, { method: 'DELETE' });
      const query = new URL(signed.url).searchParams;
      const signature = query.get('swarm-signature') as string;
      const flipped = `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
      await refused(signed.url.replace(signature, flipped));
      await refused(signed.url.replace(`swarm-expires=${signed.expires_at}`, `swarm-expires=${signed.expires_at + 1}`));
      await refused(signed.url.replace(instance.service_id, other.service_id));
      await refused(url.replace('?', ''));
      assert.equal(await (await callApi(url, token)).bytes.toString(), 'pdf bytes', 'the refused PUT changed nothing');

      // Only who may write may hand out an upload; the cap holds.
      assert.equal((await presign({ key: 'shared/up.txt', method: 'PUT' })).status, 403);
      assert.equal((await presign({ key: 'shared/up.txt', method: 'GET', expires_in: 7 * 24 * 3600 + 1 })).status, 400);
      assert.equal((await presign({ key: 'a/../b', method: 'GET' })).status, 400);
      assert.equal((await presign({ key: 'x', method: 'DELETE' })).status, 400);
      const upload = (await presign({ key: 'shared/up.txt', method: 'PUT' }, token)).body as { url: string };
      const put = await fetch(upload.url, { method: 'PUT', body: 'uploaded', headers: { 'content-type': 'text/plain' } });
      assert.equal(put.status, 201);
      assert.equal((await callApi(objectUrl('shared/up.txt'), token)).bytes.toString(), 'uploaded');
      assert.equal((await fetch(upload.url)).status, 401, 'an upload URL does not read');

      const short = (await presign({ key: 'shared/report.pdf', method: 'GET', expires_in: 2 })).body as { url: string };
      assert.equal((await fetch(short.url)).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 3100));
      await refused(short.url);
    });
  });
}

blobProductSuite('storage-blob as a product on SQLite', 'sqlite');
blobProductSuite('storage-blob as a product on PostgreSQL', 'postgres');
