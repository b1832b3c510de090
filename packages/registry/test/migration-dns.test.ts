import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { eventually, freePort, stop, tempDir } from '@swarm/dev-env';
import { dsRecord, migratedZone } from '@swarm/protocol';
import type { SrvAnswer } from 'dns-packet';
import type { RegistryHandle } from '../src/index.js';
import { queryDns } from './dns-client.js';
import { appWithInstances, migrateByRelease, Registries } from './migration-fixture.js';
import { startUnbound } from './unbound.js';

const missing = (tool: string, args: string[]): string | false =>
  spawnSync(tool, args, { stdio: 'ignore' }).error === undefined
    ? false
    : `${tool} is not on PATH (Debian: apt-get install ${tool === 'dig' ? 'dnsutils' : tool})`;
const unboundMissing = missing('unbound', ['-V']);
const digMissing = missing('dig', ['-v']);

const run = promisify(execFile);

/** The DS a parent would publish for `authority`, from the key its registry serves, as an unbound trust anchor. */
async function trustAnchor(port: number, authority: string): Promise<string[]> {
  const keys = await queryDns(port, authority, 'DNSKEY');
  return (keys.answers ?? [])
    .filter((record) => record.type === 'DNSKEY')
    .map((record) => {
      const data = record.data as { flags: number; algorithm: number; key: Buffer };
      const ds = dsRecord(authority, Buffer.concat([Buffer.from([data.flags >> 8, data.flags & 0xff, 3, data.algorithm]), data.key]));
      return `  trust-anchor: "${authority}. DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest}"`;
    });
}
const oldZoneOf = (appId: string) => `${appId.split('.').slice(2).reverse().join('.')}.swarm.local`;

/**
 * After a move, resolvers that nobody here wrote follow the old zone to the new one: unbound,
 * recursing through stub zones for both authorities, answers an SRV question about the old name
 * with the DNAME, the synthesized CNAME and the instances the target serves; dig reads the TXT
 * successor at the old zone's apex.
 */
describe('registry migration: a stock resolver follows the old zone to the new one', () => {
  const registries = new Registries();
  let source: RegistryHandle;
  let target: RegistryHandle;
  let appId: string;

  before(async () => {
    // Signed zones (the default) and no rate limit: unbound asks in bursts and validates.
    const dns = { dnsPort: 0, dnsLimits: { responsesPerSecond: 0 } } as const;
    source = await registries.start('swarm.local', dns);
    target = await registries.start('swarm.other', dns);
    await registries.trustEachOther(source, target);
    const app = await appWithInstances(source, 2);
    appId = app.appId;
    await migrateByRelease(source, target, app);
  });
  after(() => registries.closeAll());

  it('unbound follows an SRV question about the old zone to the target', { skip: unboundMissing }, async () => {
    const dir = tempDir('unbound-migration');
    const port = await freePort();
    const unbound = startUnbound({
      dir: dir.path,
      port,
      anchors: [
        ...(await trustAnchor(source.dnsPort as number, 'swarm.local')),
        ...(await trustAnchor(target.dnsPort as number, 'swarm.other')),
      ],
      stubs: [
        { zone: 'swarm.local', port: source.dnsPort as number },
        { zone: 'swarm.other', port: target.dnsPort as number },
      ],
    });
    try {
      await eventually('unbound to answer', async () => ((await queryDns(port, 'swarm.local', 'SOA')).answers?.length ? true : undefined));
      const name = `_cms-article._tcp.${oldZoneOf(appId)}`;
      const answer = await queryDns(port, name, 'SRV', { dnssecOk: true });
      const types = (answer.answers ?? []).map((record) => record.type);
      assert.equal(answer.flag_ad, true, 'validated');
      assert.ok(types.includes('DNAME'), `a DNAME in ${types.join(',')}`);
      assert.ok(types.includes('CNAME'), `a CNAME in ${types.join(',')}`);
      const srv = (answer.answers ?? []).filter((record) => record.type === 'SRV') as SrvAnswer[];
      assert.equal(srv.length, 2);
      assert.ok(srv.every((record) => record.name === `_cms-article._tcp.${migratedZone(appId, 'swarm.other')}`));
    } finally {
      await stop(unbound);
      dir.remove();
    }
  });

  it('dig reads the successor at the old zone apex and the DNAME', { skip: digMissing }, async () => {
    // Asynchronously: the registry answering dig runs in this process.
    const dig = async (name: string, type: string) =>
      (await run('dig', ['+short', '+time=2', '+tries=1', '-p', String(source.dnsPort), '@127.0.0.1', name, type])).stdout.trim();
    assert.equal(await dig(oldZoneOf(appId), 'TXT'), '"successor=swarm.other"');
    assert.equal(await dig(oldZoneOf(appId), 'DNAME'), `${migratedZone(appId, 'swarm.other')}.`);
  });
});
