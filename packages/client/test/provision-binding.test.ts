import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCmsArticle } from '@swarm/cms-article';
import { generateSigningKey } from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { catalog, claimNamespace, provision, registerApp, services } from '../src/index.js';

/** Every part of this test runs on loopback, which a part refuses to send to by default. */
const LOCAL_EGRESS = { allow: LOOPBACK_CIDRS };

describe('provision follows a 202 while the registry is away', () => {
  let dir: string;
  let registry: RegistryHandle;
  let cms: ServiceHandle;
  const startAt = (port: number) =>
    startRegistry({ port, dataDir: join(dir, 'registry'), dnsPort: false, logLevel: false, egress: LOCAL_EGRESS });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-binding-'));
    registry = await startAt(0);
    cms = await startCmsArticle({
      port: 0,
      dataDir: join(dir, 'cms'),
      trustedRegistries: [{ authority: registry.authority, baseUrl: registry.url, publicKey: registry.publicKey }],
      bindingRetry: { initialMs: 200, maxMs: 500 },
      logLevel: false,
    });
    await cms.registerOffer(registry.url, registry.adminToken);
  });
  after(async () => {
    await cms.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports binding, then active once the binding lands', async () => {
    const client = { registry: registry.url };
    const master = generateSigningKey();
    await claimNamespace(client, { namespace: 'bob', master, guardianPublicKeys: [generateSigningKey().publicKey] });
    const { app_id: appId } = await registerApp(client, { namespace: 'bob', slug: 'notes', master });
    const [offer] = await catalog(client, 'cms-article');
    assert.ok(offer);
    // The first instance puts bob's Master key into the service's cache (kept up to 60 s).
    await provision(client, { appId, serviceType: 'cms-article', master, tier: 'free', region: 'local', offer });

    const port = Number(new URL(registry.url).port);
    await registry.close();
    const seen: string[] = [];
    const pending = provision(client, {
      appId,
      serviceType: 'cms-article',
      master,
      tier: 'free',
      region: 'local',
      offer,
      onProgress: (answer) => {
        seen.push(answer.status);
        if (seen.length === 1) setTimeout(() => void startAt(port).then((restarted) => (registry = restarted)), 500);
      },
    });
    const instance = await pending;
    assert.equal(seen[0], 'binding');
    assert.equal(instance.status, 'active');
    assert.equal(seen.at(-1), 'active');
    assert.equal((await services(client, appId)).length, 2);
  });
});
