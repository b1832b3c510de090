import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { delegationRecords } from '../src/index.js';
import { runCli, SLOW } from './helpers.js';

describe('swarm registry ds: what a parent zone adds to delegate, signed', SLOW, () => {
  let signed: RegistryHandle;
  let unsigned: RegistryHandle;
  before(async () => {
    signed = await startRegistry({ logLevel: false, dnsPort: 0, dnsNameServers: [{ name: 'ns1.swarm.local', addresses: ['192.0.2.53'] }] });
    unsigned = await startRegistry({ logLevel: false, dnsPort: 0, dnssec: false });
  });
  after(async () => {
    await signed.close();
    await unsigned.close();
  });

  it('prints the NS, the glue and the DS of the served key as zone file lines', async () => {
    const run = await runCli(['registry', 'ds'], { registry: signed.url });
    assert.equal(run.code, 0, run.stderr);
    const json = run.json as {
      authority: string;
      ds: Array<{ key_tag: number; algorithm: number; digest_type: number; digest: string }>;
      zone_lines: string[];
    };
    assert.equal(json.authority, 'swarm.local');
    assert.equal(json.ds.length, 1);
    const [ds] = json.ds;
    assert.deepEqual([ds?.algorithm, ds?.digest_type], [15, 2]);
    assert.match(ds?.digest ?? '', /^[0-9A-F]{64}$/);
    assert.deepEqual(json.zone_lines, [
      'swarm.local. 3600 IN NS ns1.swarm.local.',
      'ns1.swarm.local. 3600 IN A 192.0.2.53',
      `swarm.local. 3600 IN DS ${ds?.key_tag} 15 2 ${ds?.digest}`,
    ]);
    // The library call gives the same, asked at an explicit DNS address.
    const records = await delegationRecords({ registry: signed.url }, `127.0.0.1:${signed.dnsPort}`);
    assert.deepEqual(records.ds[0]?.digest, ds?.digest);
  });

  it('says so when the zone is not signed, and refuses a --dns that is not host:port', async () => {
    await assert.rejects(delegationRecords({ registry: unsigned.url }), { code: 'registry_unavailable' });
    for (const bad of ['127.0.0.1', '127.0.0.1:0', ':53', '127.0.0.1:99999']) {
      await assert.rejects(delegationRecords({ registry: signed.url }, bad), { code: 'invalid_request' }, bad);
    }
  });
});
