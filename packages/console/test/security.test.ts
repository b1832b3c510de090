import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { rotateMasterKey } from '@swarm/client';
import { generateSigningKey, SwarmError } from '@swarm/protocol';
import fc from 'fast-check';
import { checkRequest } from '../src/guard.js';
import { cookieValue, Login } from '../src/session.js';
import { type ConsoleFixture, startFixture } from './fixture.js';

/** One raw HTTP request, so the Host, Origin and Cookie headers are exactly what a test says. */
function send(url: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const target = new URL(url);
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path, method: init.method ?? 'GET', headers: { host: target.host, ...init.headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}
const codeOf = (body: string) => (JSON.parse(body) as { error: { code: string } }).error.code;

describe('console: who may call it', () => {
  let fx: ConsoleFixture;
  let cookie: string;
  let csrf: string;
  let origin: string;
  before(async () => {
    fx = await startFixture();
    origin = fx.console.url;
  });
  after(() => fx.close());

  it('listens on 127.0.0.1 only', () => {
    assert.match(fx.console.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses every page and API without the session cookie', async () => {
    for (const path of ['/', '/app.js', '/vendor/preact.js', '/api/session', '/api/events', `/api/apps/${fx.appId}`]) {
      const answer = await send(origin, path);
      assert.equal(answer.status, 401, path);
    }
    const answer = await send(origin, '/api/session', { headers: { cookie: 'swarm_console=guessed' } });
    assert.equal(codeOf(answer.body), 'invalid_token');
  });

  it('exchanges the one-time token once for an HttpOnly, SameSite=Strict cookie', async () => {
    const wrong = await send(origin, '/login?token=not-the-token');
    assert.equal(wrong.status, 401);
    const path = new URL(fx.console.loginUrl).pathname + new URL(fx.console.loginUrl).search;
    const first = await send(origin, path);
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, '/');
    const setCookie = String(first.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    cookie = setCookie.split(';')[0] ?? '';
    const again = await send(origin, path);
    assert.equal(again.status, 401, 'a used login link opens nothing');
    assert.equal(codeOf(again.body), 'invalid_token');
    const session = await send(origin, '/api/session', { headers: { cookie } });
    assert.equal(session.status, 200);
    csrf = (JSON.parse(session.body) as { csrf: string }).csrf;
    assert.doesNotMatch(session.body, /PRIVATE KEY/);
  });

  it('refuses a wrong Host (DNS rebinding) even with the session', async () => {
    for (const host of [
      'evil.example',
      `localhost:${new URL(origin).port}`,
      '127.0.0.1',
      `127.0.0.1:${Number(new URL(origin).port) + 1}`,
    ]) {
      const answer = await send(origin, '/api/session', { headers: { host, cookie } });
      assert.equal(answer.status, 403, host);
      assert.equal(codeOf(answer.body), 'forbidden');
    }
  });

  it('refuses cross-origin and cross-site requests, reads and changes alike', async () => {
    const read = await send(origin, '/api/session', { headers: { cookie, 'sec-fetch-site': 'cross-site' } });
    assert.equal(read.status, 403);
    const body = JSON.stringify({ service_type: 'cms-article', provider: 'article.cms.local', tier: 'free', region: 'local' });
    const headers = { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' };
    const path = `/api/apps/${encodeURIComponent(fx.appId)}/provision`;
    const attempts: Array<Record<string, string>> = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      {},
      { origin, 'sec-fetch-site': 'same-site' },
    ];
    for (const extra of attempts) {
      const answer = await send(origin, path, { method: 'POST', headers: { ...headers, ...extra }, body });
      assert.equal(answer.status, 403, JSON.stringify(extra));
      assert.equal(codeOf(answer.body), 'forbidden');
    }
  });

  it('refuses a change without the CSRF token, or without the session', async () => {
    const body = JSON.stringify({ service_id: 'cms-article-0000000000' });
    const path = `/api/apps/${encodeURIComponent(fx.appId)}/decommission`;
    const noToken = await send(origin, path, { method: 'POST', headers: { cookie, origin, 'content-type': 'application/json' }, body });
    assert.equal(noToken.status, 403);
    const wrongToken = await send(origin, path, { method: 'POST', headers: { cookie, origin, 'x-csrf-token': 'x' }, body });
    assert.equal(wrongToken.status, 403);
    const noSession = await send(origin, path, { method: 'POST', headers: { origin, 'x-csrf-token': csrf }, body });
    assert.equal(noSession.status, 401);
  });

  it('answers bad input with invalid_request and other apps with forbidden, never a 500', async () => {
    const headers = { cookie, origin, 'x-csrf-token': csrf, 'content-type': 'application/json' };
    const path = `/api/apps/${encodeURIComponent(fx.appId)}/provision`;
    for (const body of [
      '{',
      '[]',
      '{"service_type":"cms-article"}',
      JSON.stringify({ service_type: 'X', provider: 'a', tier: 'b', region: 'c', extra: 1 }),
    ]) {
      const answer = await send(origin, path, { method: 'POST', headers, body });
      assert.equal(answer.status, 400, body);
      assert.equal(codeOf(answer.body), 'invalid_request');
    }
    const other = await send(origin, '/api/apps/local.swarm.mallory.shop.abcdef/provision', {
      method: 'POST',
      headers,
      body: JSON.stringify({ service_type: 'cms-article', provider: 'article.cms.local', tier: 'free', region: 'local' }),
    });
    assert.equal(other.status, 403);
    const logs = await send(origin, `/api/apps/${encodeURIComponent(fx.appId)}/logs?level=loud`, { headers: { cookie } });
    assert.equal(logs.status, 400);
  });

  it('sends a strict Content-Security-Policy and refuses framing', async () => {
    const page = await send(origin, '/', { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
  });

  it("shows the namespace's last Master key change, read from the audit log (last: it changes the key)", async () => {
    const before = JSON.parse((await send(origin, '/api/session', { headers: { cookie } })).body) as { last_rotation: unknown };
    assert.equal(before.last_rotation, null);
    await rotateMasterKey(fx.client, { namespace: 'owner', oldKey: fx.master, newKey: generateSigningKey() });
    const after = JSON.parse((await send(origin, '/api/session', { headers: { cookie } })).body) as {
      last_rotation: { event: string; at: number };
    };
    assert.equal(after.last_rotation.event, 'master_key_rotated');
    assert.ok(after.last_rotation.at > 0);
  });
});

describe('console: request checks hold for any input', () => {
  const origin = 'http://127.0.0.1:4567';
  it('lets through only the own Host', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (host) => {
        fc.pre(host !== '127.0.0.1:4567');
        assert.throws(
          () => checkRequest(origin, { host }, 'GET'),
          (e: unknown) => e instanceof SwarmError && e.code === 'forbidden',
        );
      }),
      { numRuns: 300 },
    );
  });
  it('lets a change through only with the own Origin', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 80 }), { nil: undefined }), (from) => {
        fc.pre(from !== origin);
        const headers = { host: '127.0.0.1:4567', ...(from === undefined ? {} : { origin: from }) };
        assert.throws(
          () => checkRequest(origin, headers, 'POST'),
          (e: unknown) => e instanceof SwarmError && e.code === 'forbidden',
        );
      }),
      { numRuns: 300 },
    );
    checkRequest(origin, { host: '127.0.0.1:4567', origin }, 'POST');
  });
  it('reads a cookie header of any shape without throwing, and trusts no duplicate', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        const value = cookieValue(header, 'swarm_console');
        assert.ok(value === null || /^[A-Za-z0-9_-]{1,128}$/.test(value));
      }),
    );
    assert.equal(cookieValue('swarm_console=a; swarm_console=b', 'swarm_console'), null);
  });
  it('refuses any token but the printed one, and the printed one twice', () => {
    const login = new Login();
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (token) => {
        fc.pre(token !== login.token);
        assert.throws(
          () => login.exchange(token),
          (e: unknown) => e instanceof SwarmError && e.code === 'invalid_token',
        );
      }),
    );
    login.exchange(login.token);
    assert.throws(
      () => login.exchange(login.token),
      (e: unknown) => e instanceof SwarmError && e.code === 'invalid_token',
    );
  });
});
