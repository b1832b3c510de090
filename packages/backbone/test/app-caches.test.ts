import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { TrustedRegistries } from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { RegistryClient } from '@swarm/runtime';
import { AppAuthCache } from '../src/shared/app-records.js';

/** Forwards to the registry and counts what reaches it. */
async function countingProxy(target: string) {
  const seen: string[] = [];
  const server = createServer(async (request, response) => {
    seen.push(request.url ?? '');
    const upstream = await fetch(`${target}${request.url}`);
    response.writeHead(upstream.status, { 'content-type': 'application/json' });
    response.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    hits: (part: string) => seen.filter((url) => url.includes(part)).length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('app and key lookups are bounded and cache "no such app" briefly', () => {
  let registry: RegistryHandle;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let trusted: TrustedRegistries;
  const unknownApp = (n: number) => `local.swarm.nobody.ghost.${n.toString(16).padStart(6, '0')}`;

  before(async () => {
    registry = await startRegistry({ port: 0, dnsPort: false, logLevel: false });
    proxy = await countingProxy(registry.url);
    trusted = new TrustedRegistries([{ authority: registry.authority, baseUrl: proxy.url, publicKey: registry.publicKey }]);
  });
  after(async () => {
    await proxy.close();
    await registry.close();
  });

  it('asks the registry once about an unknown app, however often and however concurrently it is asked', async () => {
    const client = new RegistryClient(trusted);
    const app = unknownApp(1);
    const answers = await Promise.allSettled(Array.from({ length: 20 }, () => client.masterKey(app)));
    for (let n = 0; n < 20; n++) await assert.rejects(client.masterKey(app), { code: 'unknown_app' });
    assert.ok(answers.every((answer) => answer.status === 'rejected' && (answer.reason as { code?: string }).code === 'unknown_app'));
    assert.equal(proxy.hits(`/${app}/master-key`), 1);
    await assert.rejects(client.services(app), { code: 'unknown_app' });
    await assert.rejects(client.services(app), { code: 'unknown_app' });
    assert.equal(proxy.hits(`/${app}/services`), 1);

    const auth = new AppAuthCache(client);
    for (let n = 0; n < 10; n++) await assert.rejects(auth.forKid(app, 'kid'), { code: 'unknown_app' });
    assert.equal(proxy.hits(`/v1/apps/${app}`) - proxy.hits(`/${app}/`), 1);
  });

  it('asks again once the negative answer expired', async () => {
    const client = new RegistryClient(trusted, { negativeTtlMs: 200 });
    const app = unknownApp(2);
    await assert.rejects(client.masterKey(app), { code: 'unknown_app' });
    await assert.rejects(client.masterKey(app), { code: 'unknown_app' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assert.rejects(client.masterKey(app), { code: 'unknown_app' });
    assert.equal(proxy.hits(`/${app}/master-key`), 2);
  });

  it('keeps at most maxApps apps, the least recently used going first', async () => {
    const client = new RegistryClient(trusted, { maxApps: 2 });
    const [a, b, c] = [unknownApp(3), unknownApp(4), unknownApp(5)];
    for (const app of [a, b, a, c, a]) await assert.rejects(client.masterKey(app));
    // a was used last before c came in, so b went; a is still kept.
    assert.deepEqual(
      [a, b, c].map((app) => proxy.hits(`/${app}/master-key`)),
      [1, 1, 1],
    );
    await assert.rejects(client.masterKey(b));
    assert.equal(proxy.hits(`/${b}/master-key`), 2, 'b was evicted');
  });
});
