import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHttpApp, getJson, listenApp, requestJson, Shutdown } from '../src/index.js';

describe('listenApp', () => {
  it('binds a free port and answers the local and the public URL', async () => {
    const app = createHttpApp({ name: 'test', logLevel: false });
    const { localUrl, publicUrl } = await listenApp(app, { port: 0, publicUrl: 'https://peer.example//' });
    try {
      assert.match(localUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(localUrl, 'http://127.0.0.1:0');
      assert.equal(publicUrl, 'https://peer.example');
      assert.equal((await getJson(`${localUrl}/healthz`)).status, 200);
    } finally {
      await app.close();
    }
    const other = createHttpApp({ name: 'test', logLevel: false });
    const plain = await listenApp(other);
    await other.close();
    assert.equal(plain.publicUrl, plain.localUrl);
  });
});

describe('Shutdown', () => {
  it('stops (last first), flushes, then releases (last first), once', async () => {
    const order: string[] = [];
    const shutdown = new Shutdown();
    shutdown.onRelease(() => order.push('database'));
    shutdown.onRelease(async () => order.push('replay'));
    shutdown.onFlush(() => order.push('flush'));
    shutdown.onStop(() => order.push('http'));
    shutdown.onStop(() => order.push('timers'));
    await Promise.all([shutdown.close(), shutdown.close()]);
    await shutdown.close();
    assert.deepEqual(order, ['timers', 'http', 'flush', 'replay', 'database']);
  });

  it('runs every step when one fails and throws the first failure', async () => {
    const order: string[] = [];
    const shutdown = new Shutdown();
    shutdown.onRelease(() => order.push('database'));
    shutdown.onStop(() => {
      throw new Error('http');
    });
    shutdown.onStop(() => {
      throw new Error('timers');
    });
    await assert.rejects(shutdown.close(), /timers/);
    assert.deepEqual(order, ['database']);
  });

  it('closes what a failed start opened and throws the start error', async () => {
    const order: string[] = [];
    const shutdown = new Shutdown();
    await assert.rejects(
      shutdown.start(async () => {
        shutdown.onRelease(() => order.push('database'));
        shutdown.onStop(() => {
          throw new Error('close failed too');
        });
        throw new Error('port in use');
      }),
      /port in use/,
    );
    assert.deepEqual(order, ['database']);
  });

  it('closes a listening app so its port is free again', async () => {
    const shutdown = new Shutdown();
    const app = createHttpApp({ name: 'test', logLevel: false });
    shutdown.onStop(() => app.close());
    const { localUrl } = await listenApp(app);
    await shutdown.close();
    await assert.rejects(requestJson('GET', `${localUrl}/healthz`, undefined, { timeoutMs: 2000 }), { code: 'registry_unavailable' });
  });
});
