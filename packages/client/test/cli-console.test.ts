import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Part, spawnSwarm, stop, tempDir } from '@swarm/dev-env';
import { keygen } from '../src/index.js';

describe('swarm console (the command)', () => {
  const dir = tempDir('swarm-console-cli-');
  let part: Part<{ url: string; login_url: string; apps: string[] }>;
  const appId = 'local.swarm.owner.shop.abc123';

  before(async () => {
    await keygen(join(dir.path, 'master.pem'));
    // No swarm is needed to start it: the console reads the registry only when the page asks.
    part = await spawnSwarm('console', ['console', '--key', join(dir.path, 'master.pem'), '--app', appId, '--json']);
  });
  after(async () => {
    await stop(part);
    dir.remove();
  });

  it('prints a one-time login URL on 127.0.0.1 and never the key', async () => {
    assert.match(part.ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(part.ready.login_url.startsWith(`${part.ready.url}/login?token=`));
    assert.deepEqual(part.ready.apps, [appId]);
    assert.doesNotMatch(JSON.stringify(part.ready), /PRIVATE KEY/);
    const first = await fetch(part.ready.login_url, { redirect: 'manual' });
    assert.equal(first.status, 303);
    const again = await fetch(part.ready.login_url, { redirect: 'manual' });
    assert.equal(again.status, 401);
  });

  it('stops on SIGTERM', async () => {
    await stop(part);
    assert.ok(part.child.exitCode !== null || part.child.signalCode !== null);
  });
});
