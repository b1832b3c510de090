import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@swarm/dev-env/ports';
import { generateSigningKey, sign, verify } from '@swarm/protocol';
import fc from 'fast-check';
import {
  createHttpApp,
  formatTraceparent,
  getJson,
  listenApp,
  observedOf,
  PartMetrics,
  parseTraceparent,
  processRegistry,
  type TraceContext,
} from '../src/index.js';

const TOKEN = 'metrics-token-0123456789';

async function metricsOf(url: string, token: string | null): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, text: await response.text() };
}

describe('traceparent', () => {
  it('reads what it writes, and only W3C version-00 shapes', () => {
    const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, flags) => {
        const parsed = parseTraceparent(formatTraceparent({ traceId, spanId, flags }));
        if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) assert.equal(parsed, null);
        else assert.deepEqual(parsed, { traceId, spanId, flags });
      }),
    );
    for (const bad of [
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01',
      `00-${'a'.repeat(600)}`,
    ]) {
      assert.equal(parseTraceparent(bad), null, bad);
    }
    // A later version may append fields; an array of headers is not a traceparent.
    assert.ok(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-comes'));
    assert.equal(parseTraceparent(['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']), null);
  });

  it('never throws on anything a client sends', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything()), (value) => {
        parseTraceparent(value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('a part with metrics and traces', () => {
  const upstream = createHttpApp({ name: 'upstream', logLevel: false });
  upstream.get('/seen', async (request) => ({
    traceId: request.trace.traceId,
    spanId: request.trace.spanId,
    parent: request.headers.traceparent,
  }));
  const app = createHttpApp({ name: 'part', logLevel: 'fatal', metricsAccess: { tokens: [TOKEN], loopback: 'token' } });
  let upstreamUrl = '';
  app.get('/items/:id', async (request) => ({ id: (request.params as { id: string }).id }));
  app.get('/call', async (request) => {
    const answer = await getJson(`${upstreamUrl}/seen`, { trace: request.trace });
    return { mine: { traceId: request.trace.traceId, spanId: request.trace.spanId }, upstream: answer.body };
  });
  app.get('/bindings', async (request) => (request.log as unknown as { bindings(): Record<string, unknown> }).bindings());
  let url = '';
  before(async () => {
    upstreamUrl = (await listenApp(upstream)).localUrl;
    url = (await listenApp(app)).localUrl;
  });
  after(async () => {
    await app.close();
    await upstream.close();
  });

  it('serves /metrics only to the metrics token', async () => {
    for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(1)]) {
      const { status, text } = await metricsOf(url, token);
      assert.equal(status, 401);
      assert.equal(JSON.parse(text).error.code, 'invalid_token');
    }
    const bare = await fetch(`${url}/metrics`, { headers: { authorization: TOKEN } });
    assert.equal(bare.status, 401);
    assert.equal((await metricsOf(url, TOKEN)).status, 200);
  });

  it('labels requests by route pattern and code, never by the URL asked', async () => {
    for (const id of ['alice-app-id', 'bob', '../../etc']) await fetch(`${url}/items/${encodeURIComponent(id)}`);
    await fetch(`${url}/no/such/${'x'.repeat(40)}`);
    const { text } = await metricsOf(url, TOKEN);
    assert.match(text, /swarm_http_request_duration_seconds_count\{method="GET",route="\/items\/:id",code="200"\} 3/);
    assert.match(text, /swarm_http_request_duration_seconds_count\{method="GET",route="unmatched",code="404"\} 1/);
    assert.doesNotMatch(text, /alice-app-id|bob|xxxxxxxx/);
    // The process's families come with the part's: event-loop delay and signature checks.
    assert.match(text, /swarm_nodejs_eventloop_lag_seconds/);
  });

  it('counts signature verifications by purpose and result', async () => {
    processRegistry();
    const key = generateSigningKey();
    const signature = sign('binding', { a: 1 }, key.privateKey);
    assert.ok(verify('binding', { a: 1 }, signature, key.publicKey));
    assert.ok(!verify('binding', { a: 2 }, signature, key.publicKey));
    const { text } = await metricsOf(url, TOKEN);
    assert.match(text, /swarm_signature_verifications_total\{purpose="binding",result="ok"\} [1-9]/);
    assert.match(text, /swarm_signature_verifications_total\{purpose="binding",result="failed"\} [1-9]/);
  });

  it('continues the caller’s trace and passes it to the next hop', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${url}/call`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const body = (await response.json()) as { mine: TraceContext; upstream: { traceId: string; spanId: string; parent: string } };
    assert.equal(body.mine.traceId, traceId);
    assert.notEqual(body.mine.spanId, '00f067aa0ba902b7');
    assert.equal(body.upstream.traceId, traceId);
    assert.equal(body.upstream.parent, `00-${traceId}-${body.mine.spanId}-01`);
    assert.notEqual(body.upstream.spanId, body.mine.spanId);
    // A bad header starts a new trace instead of failing the request.
    const fresh = await fetch(`${url}/call`, { headers: { traceparent: 'garbage' } });
    assert.equal(fresh.status, 200);
    assert.match(((await fresh.json()) as { mine: TraceContext }).mine.traceId, /^[0-9a-f]{32}$/);
  });

  it('puts the request id and the trace id in every log line of a request', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const response = await fetch(`${url}/bindings`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    const bindings = (await response.json()) as Record<string, unknown>;
    assert.equal(bindings.trace_id, traceId);
    assert.ok(bindings.reqId);
  });
});

describe('where /metrics is served', () => {
  it('is on the part’s port for a scraper on this machine without a token (SPEC §15), and for no one when loopback needs one too', async () => {
    const app = createHttpApp({ name: 'plain', logLevel: false });
    const guarded = createHttpApp({ name: 'guarded-loopback', logLevel: false, metricsAccess: { loopback: 'token' } });
    const { localUrl } = await listenApp(app);
    const guardedUrl = (await listenApp(guarded)).localUrl;
    try {
      const open = await metricsOf(localUrl, null);
      assert.equal(open.status, 200);
      assert.match(open.text, /^# HELP swarm_/m);
      // SPEC §15: every metric name starts with swarm_, the process's own included.
      const names = [...open.text.matchAll(/^# TYPE (\S+)/gm)].map((match) => match[1]);
      assert.ok(names.length > 10, open.text.slice(0, 200));
      assert.deepEqual(
        names.filter((name) => !name?.startsWith('swarm_')),
        [],
      );
      const { status, text } = await metricsOf(guardedUrl, 'anything');
      assert.equal(status, 401);
      assert.equal(JSON.parse(text).error.code, 'invalid_token');
    } finally {
      await guarded.close();
      await app.close();
    }
  });

  it('serves the metrics port on loopback without a token, and nothing else there', async () => {
    const port = await freePort();
    const app = createHttpApp({ name: 'probe', logLevel: false, metricsAccess: { port }, checks: { database: async () => true } });
    await listenApp(app);
    try {
      const metricsUrl = observedOf(app).metricsUrl();
      assert.equal(metricsUrl, `http://127.0.0.1:${port}`);
      assert.equal((await metricsOf(metricsUrl!, null)).status, 200);
      assert.equal((await fetch(`${metricsUrl}/readyz`)).status, 200);
      assert.equal((await fetch(`${metricsUrl}/healthz`)).status, 200);
      assert.equal((await fetch(`${metricsUrl}/v1/anything`)).status, 404);
      assert.equal((await fetch(`${metricsUrl}/metrics`, { method: 'POST' })).status, 400);
    } finally {
      await app.close();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });

  it('refuses a metrics port off loopback without a token, and asks for the token there when one is set', async () => {
    assert.throws(() => createHttpApp({ name: 'open', logLevel: false, metricsAccess: { port: 0, host: '0.0.0.0' } }), /metrics token/);
    const port = await freePort();
    const app = createHttpApp({ name: 'guarded', logLevel: false, metricsAccess: { port, tokens: [TOKEN] } });
    await listenApp(app);
    try {
      const metricsUrl = observedOf(app).metricsUrl()!;
      assert.equal((await metricsOf(metricsUrl, null)).status, 401);
      assert.equal((await metricsOf(metricsUrl, 'wrong')).status, 401);
      assert.equal((await metricsOf(metricsUrl, TOKEN)).status, 200);
    } finally {
      await app.close();
    }
  });
});

describe('health', () => {
  it('is not ready while a check fails, and says which one without saying why', async () => {
    let databaseUp = true;
    const app = createHttpApp({
      name: 'health',
      logLevel: false,
      checks: {
        database: async () => {
          if (!databaseUp) throw new Error('connection refused to 10.0.0.5');
        },
        registry: async () => true,
      },
    });
    const { localUrl } = await listenApp(app);
    try {
      assert.deepEqual(await getJson(`${localUrl}/readyz`), {
        status: 200,
        body: { status: 'ready', checks: { database: 'ok', registry: 'ok' } },
      });
      databaseUp = false;
      const down = await getJson(`${localUrl}/readyz`);
      assert.deepEqual(down, { status: 503, body: { status: 'not_ready', checks: { database: 'failing', registry: 'ok' } } });
      assert.equal((await getJson(`${localUrl}/healthz`)).status, 200);
    } finally {
      await app.close();
    }
  });

  it('drains on close: a request in flight finishes, a new one is refused', async () => {
    const app = createHttpApp({ name: 'drain', logLevel: false, drainTimeoutMs: 5000 });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => (started = resolve));
    app.get('/slow', async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { done: true };
    });
    const { localUrl } = await listenApp(app);
    const slow = getJson(`${localUrl}/slow`);
    await running;
    const closing = app.close();
    assert.deepEqual(await slow, { status: 200, body: { done: true } });
    await closing;
    await assert.rejects(getJson(`${localUrl}/slow`));
  });
});

describe('PartMetrics', () => {
  it('keeps each part’s families apart in one process', async () => {
    const a = new PartMetrics();
    const b = new PartMetrics();
    a.counter('swarm_test_only_total', 'a test counter').inc();
    assert.match(await a.text(), /swarm_test_only_total 1/);
    assert.doesNotMatch(await b.text(), /swarm_test_only_total/);
  });
});
