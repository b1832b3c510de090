import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import { createHttpApp, jsonBody, postJson, requestJson } from '../src/index.js';

const app = createHttpApp({ name: 'test', logLevel: false });
app.post('/echo', async (request) => ({ got: jsonBody(request) }));
app.get('/boom', async () => {
  throw new Error('secret detail');
});
app.get('/refused', async () => {
  throw new SwarmError('wrong_provider', 'not me');
});
let url = '';
before(async () => {
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(() => app.close());

describe('createHttpApp', () => {
  it('parses JSON bodies with the protocol reader', async () => {
    assert.deepEqual(await postJson(`${url}/echo`, { a: 1 }), { status: 200, body: { got: { a: 1 } } });
  });

  it('answers every bad body with a SPEC error', async () => {
    const send = (body: string, type = 'application/json') =>
      fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => [
        r.status,
        ((await r.json()) as { error: { code: string } }).error.code,
      ]);
    assert.deepEqual(await send('{"a":1,"a":2}'), [400, 'invalid_request']);
    assert.deepEqual(await send('{"__proto__":{"x":1}}'), [400, 'invalid_request']);
    assert.deepEqual(await send('not json', 'text/plain'), [400, 'invalid_request']);
    assert.deepEqual(await send(`{"a":"${'x'.repeat(70_000)}"}`), [413, 'payload_too_large']);
    const empty = await fetch(`${url}/echo`, { method: 'POST' });
    assert.equal(empty.status, 400);
  });

  it('keeps 5xx detail out of the answer and maps SwarmError codes', async () => {
    const boom = await requestJson('GET', `${url}/boom`);
    assert.equal(boom.status, 500);
    assert.doesNotMatch(JSON.stringify(boom.body), /secret/);
    assert.deepEqual(await requestJson('GET', `${url}/refused`), {
      status: 403,
      body: { error: { code: 'wrong_provider', message: 'not me' } },
    });
    assert.equal(((await requestJson('GET', `${url}/nowhere`)).body as { error: { code: string } }).error.code, 'not_found');
  });

  it('serves /healthz and /readyz', async () => {
    assert.equal((await requestJson('GET', `${url}/healthz`)).status, 200);
    assert.equal((await requestJson('GET', `${url}/readyz`)).status, 200);
  });

  it('turns an unreachable peer into registry_unavailable', async () => {
    await assert.rejects(
      postJson('http://127.0.0.1:1/x', {}),
      (e: unknown) => e instanceof SwarmError && e.code === 'registry_unavailable',
    );
  });
});
