import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Part, SECOND_PROVIDERS, STANDARD_PORTS, spawnPart, stop } from '@swarm/dev-env';

const SWARM_BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

/** Whether every port of SPEC §13 is free on 127.0.0.1 (TCP; DNS is checked the same way). */
async function standardPortsFree(): Promise<boolean> {
  for (const port of [...Object.values(STANDARD_PORTS), ...Object.values(SECOND_PROVIDERS).map((second) => second.port)]) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

const busy = (await standardPortsFree()) ? false : 'a port of SPEC §13 (7400–7412, 7453) or of the second providers (7420–7422) is in use';

describe('`swarm up` on the ports of SPEC §13 with ./.swarm/ (npm start)', { skip: busy }, () => {
  let dir: string;
  let swarm:
    | Part<{ parts: Array<{ name: string; url: string }>; second_providers: Array<{ provider: string; url: string }>; dnsPort: number }>
    | undefined;
  after(async () => {
    await stop(swarm);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts every part on its fixed port, keeps its state in ./.swarm/, answers HTTP and DNS, and stops cleanly', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-up-'));
    swarm = await spawnPart('swarm up', [SWARM_BIN, 'up', '--json'], { cwd: dir });
    const urls = Object.fromEntries(swarm.ready.parts.map((part) => [part.name, part.url]));
    for (const [name, port] of Object.entries(STANDARD_PORTS)) {
      if (name === 'dns') continue;
      assert.equal(urls[name], `http://127.0.0.1:${port}`, name);
    }
    assert.equal(swarm.ready.dnsPort, STANDARD_PORTS.dns);
    // A second provider of each domain type, so `swarm move` can be tried locally.
    assert.deepEqual(
      swarm.ready.second_providers.map((second) => [second.provider, second.url]),
      Object.values(SECOND_PROVIDERS).map((second) => [second.provider, `http://127.0.0.1:${second.port}`]),
    );
    const catalog = (await (await fetch('http://127.0.0.1:7400/v1/catalog/cms-article')).json()) as {
      services: Array<{ provider: string }>;
    };
    assert.deepEqual(catalog.services.map((entry) => entry.provider).sort(), ['article.cms.local', 'article2.cms.local']);
    assert.equal((await fetch('http://127.0.0.1:7400/healthz')).status, 200);
    const wellKnown = (await (await fetch('http://127.0.0.1:7400/.well-known/swarm-registry')).json()) as { authority: string };
    assert.equal(wellKnown.authority, 'swarm.local');
    const resolver = new Resolver({ timeout: 3000, tries: 1 });
    resolver.setServers([`127.0.0.1:${STANDARD_PORTS.dns}`]);
    const soa = await resolver.resolveSoa('swarm.local');
    assert.ok(soa.serial > 0);
    assert.ok(existsSync(join(dir, '.swarm', 'registry')), './.swarm/registry holds the registry');
    await stop(swarm);
    assert.equal(swarm.child.exitCode, 0, 'Ctrl-C/SIGTERM stops it cleanly');
    swarm = undefined;
  });
});
