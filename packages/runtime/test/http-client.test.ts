import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { requestJson } from '../src/index.js';

let server: Server;
let url = '';
const seen: IncomingMessage[] = [];
const routes: Record<string, (request: IncomingMessage, response: ServerResponse) => void> = {
  '/json': (_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
  '/empty': (_request, response) => response.writeHead(204).end(),
  '/text': (_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('hello'),
  '/redirect': (_request, response) => response.writeHead(307, { location: '/json' }).end(),
  '/big': (_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(`"${'x'.repeat(2000)}"`),
  '/big-chunked': (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    for (let i = 0; i < 20; i++) response.write(i === 0 ? `"${'x'.repeat(99)}` : 'x'.repeat(100));
    response.end('"');
  },
};

before(async () => {
  server = createServer((request, response) => {
    seen.push(request);
    const route = routes[request.url ?? ''];
    if (route) route(request, response);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('requestJson', () => {
  it('sends JSON, asks for an uncompressed JSON answer and parses it', async () => {
    assert.deepEqual(await requestJson('POST', `${url}/json`, { a: 1 }, { headers: { 'x-test': '1' } }), {
      status: 200,
      body: { ok: true },
    });
    const request = seen.at(-1) as IncomingMessage;
    assert.equal(request.headers['accept-encoding'], 'identity');
    assert.equal(request.headers.accept, 'application/json');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['x-test'], '1');
    assert.deepEqual(await requestJson('GET', `${url}/empty`), { status: 204, body: null });
  });

  it('treats a redirect as a failure and never follows it', async () => {
    const before = seen.length;
    await assert.rejects(requestJson('GET', `${url}/redirect`), { code: 'registry_unavailable', message: /redirects are not followed/ });
    assert.equal(seen.length, before + 1);
  });

  it('refuses answers over the size cap, declared or streamed', async () => {
    await assert.rejects(requestJson('GET', `${url}/big`, undefined, { maxResponseBytes: 1000 }), {
      code: 'registry_unavailable',
      message: /more than 1000 bytes/,
    });
    await assert.rejects(requestJson('GET', `${url}/big-chunked`, undefined, { maxResponseBytes: 1000 }), {
      code: 'registry_unavailable',
    });
    assert.equal(((await requestJson('GET', `${url}/big-chunked`)).body as string).length, 1999);
  });

  it('answers a body that is not JSON as unavailable, unless only the status is read', async () => {
    await assert.rejects(requestJson('GET', `${url}/text`), { code: 'registry_unavailable', message: /not JSON/ });
    assert.deepEqual(await requestJson('GET', `${url}/text`, undefined, { read: 'status' }), { status: 200, body: null });
  });

  it('sends only to http(s) URLs and reports an unreachable peer', async () => {
    for (const target of ['not a url', 'data:application/json,{}', 'file:///etc/passwd']) {
      await assert.rejects(requestJson('GET', target), { code: 'registry_unavailable' }, target);
    }
    await assert.rejects(requestJson('GET', 'http://127.0.0.1:1/x', undefined, { timeoutMs: 2000 }), {
      code: 'registry_unavailable',
      message: /cannot be reached/,
    });
  });
});
