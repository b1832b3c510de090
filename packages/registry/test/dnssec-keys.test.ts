import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '@swarm/dev-env';
import { generateSigningKey, keyTag, privateKeyToPem } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import { registryOptionsFromEnv, startRegistry } from '../src/index.js';

/** The key tags of the DNSKEYs a registry serves. */
async function dnskeyTags(port: number): Promise<number[]> {
  const socket = createSocket('udp4');
  try {
    const received = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'swarm.local', type: 'DNSKEY' }] }), port, '127.0.0.1');
    const [reply] = await received;
    return (dnsPacket.decode(reply).answers ?? [])
      .filter((record) => record.type === 'DNSKEY')
      .map((record) => {
        const data = record.data as { flags: number; algorithm: number; key: Buffer };
        return keyTag(Buffer.concat([Buffer.from([data.flags >> 8, data.flags & 0xff, 3, data.algorithm]), data.key]));
      })
      .sort();
  } finally {
    socket.close();
  }
}

describe('DNSSEC keys of the registry', () => {
  const dir = tempDir('dnssec-keys');
  after(() => dir.remove());

  it('creates one key in the database: every replica on it, and a restart, sign with the same one', async () => {
    const databaseFile = join(dir.path, 'registry.db');
    const first = await startRegistry({ logLevel: false, dnsPort: 0, databaseFile });
    const second = await startRegistry({ logLevel: false, dnsPort: 0, databaseFile });
    try {
      const tags = await dnskeyTags(first.dnsPort as number);
      assert.equal(tags.length, 2, 'the key-signing key and the zone-signing key derived from it');
      assert.deepEqual(await dnskeyTags(second.dnsPort as number), tags);
      await second.close();
      const again = await startRegistry({ logLevel: false, dnsPort: 0, databaseFile });
      assert.deepEqual(await dnskeyTags(again.dnsPort as number), tags);
      await again.close();
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('publishes every key of --dnssec-key (a rollover), and none with --no-dnssec', async () => {
    const keys = [generateSigningKey(), generateSigningKey()];
    const file = join(dir.path, 'dnssec-keys.pem');
    writeFileSync(file, keys.map((key) => privateKeyToPem(key.privateKey)).join(''));
    const rolling = await startRegistry({ logLevel: false, dnsPort: 0, dnssecKeyFile: file });
    const unsigned = await startRegistry({ logLevel: false, dnsPort: 0, dnssec: false });
    try {
      // Each key publishes its key-signing DNSKEY and the zone-signing one derived from it.
      assert.equal((await dnskeyTags(rolling.dnsPort as number)).length, 4);
      assert.deepEqual(await dnskeyTags(unsigned.dnsPort as number), []);
    } finally {
      await rolling.close();
      await unsigned.close();
    }
    writeFileSync(file, 'not a key');
    await assert.rejects(startRegistry({ logLevel: false, dnsPort: 0, dnssecKeyFile: file }), { code: 'invalid_request' });
  });

  it('reads SWARM_DNS_NS, SWARM_DNSSEC and SWARM_DNSSEC_KEY_FILE', () => {
    const options = registryOptionsFromEnv({
      SWARM_DNS_NS: 'ns1.swarm.local=192.0.2.1,ns2.example.net',
      SWARM_DNSSEC: 'off',
      SWARM_DNSSEC_KEY_FILE: '/keys/dnssec.pem',
    });
    assert.deepEqual(options.dnsNameServers, [
      { name: 'ns1.swarm.local', addresses: ['192.0.2.1'] },
      { name: 'ns2.example.net', addresses: [] },
    ]);
    assert.equal(options.dnssec, false);
    assert.equal(options.dnssecKeyFile, '/keys/dnssec.pem');
    assert.throws(() => registryOptionsFromEnv({ SWARM_DNS_NS: 'ns1=1.2.3.4' }), { code: 'invalid_request' });
  });
});
