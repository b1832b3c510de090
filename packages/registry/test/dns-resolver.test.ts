import assert from 'node:assert/strict';
import type { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { eventually, freePort, stop, tempDir } from '@swarm/dev-env';
import { appDnsZone, dsRecord } from '@swarm/protocol';
import type { DecodedPacket, RecordType, SrvAnswer, StringAnswer } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { type RegistryHandle, startRegistry } from '../src/index.js';
import { boundInstance, developerWithApp, listedProvider } from './helpers.js';
import { startUnbound, unboundMissing } from './unbound.js';

const HOST = '127.0.0.1';

async function ask(port: number, name: string, type: RecordType): Promise<DecodedPacket & { rcode?: string }> {
  const socket = createSocket('udp4');
  try {
    const id = Math.floor(Math.random() * 65536);
    const received = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(
      dnsPacket.encode({
        type: 'query',
        id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ name, type }],
        additionals: [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: dnsPacket.DNSSEC_OK,
            flag_do: true,
            options: [],
          },
        ],
      }),
      port,
      HOST,
    );
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${name} ${type}`)), 10_000).unref());
    const [raw] = await Promise.race([received, timeout]);
    return dnsPacket.decode(raw) as DecodedPacket & { rcode?: string };
  } finally {
    socket.close();
  }
}

/**
 * Sits between unbound and the registry: passes every datagram on as it is, except that in replies
 * about a name containing `tamperWith` the SRV port is changed, as an attacker on the path would.
 */
async function tamperingProxy(upstream: number, tamperWith: string): Promise<{ port: number; close(): Promise<void> }> {
  const outside = createSocket('udp4');
  outside.on('message', (query, peer) => {
    const socket = createSocket('udp4');
    socket.on('message', (reply) => {
      socket.close();
      outside.send(tamper(reply), peer.port, peer.address);
    });
    socket.send(query, upstream, HOST);
  });
  const tamper = (reply: Buffer): Buffer => {
    const packet = dnsPacket.decode(reply);
    if (!packet.questions?.[0]?.name.toLowerCase().includes(tamperWith)) return reply;
    let changed = false;
    for (const record of packet.answers ?? []) {
      if (record.type === 'SRV') {
        (record as SrvAnswer).data.port += 1;
        changed = true;
      }
    }
    return changed ? dnsPacket.encode(packet) : reply;
  };
  outside.bind(0, HOST);
  await once(outside, 'listening');
  return { port: outside.address().port, close: () => new Promise((resolve) => outside.close(() => resolve())) };
}

describe('Service DNS through a validating resolver (unbound)', { skip: unboundMissing }, () => {
  let registry: RegistryHandle;
  let proxy: Awaited<ReturnType<typeof tamperingProxy>>;
  let unbound: { child: ReturnType<typeof spawn> };
  let resolverPort: number;
  const dir = tempDir('unbound');
  let zone: string;
  let tamperedZone: string;

  before(async () => {
    // Rate limiting off: unbound asks in bursts from one address.
    registry = await startRegistry({ logLevel: false, dnsPort: 0, dnsLimits: { responsesPerSecond: 0 }, dnsAddressTargets: 'zone' });
    for (const name of ['zone', 'tampered']) {
      const { dev, appId } = await developerWithApp(registry);
      await boundInstance(registry, dev, appId, await listedProvider(registry));
      if (name === 'zone') zone = appDnsZone(appId).slice(0, -1);
      else tamperedZone = appDnsZone(appId).slice(0, -1);
    }
    proxy = await tamperingProxy(registry.dnsPort as number, tamperedZone.split('.')[0] as string);
    // The trust anchor is the DS a parent would publish, worked out from the key the registry serves.
    const keys = await ask(registry.dnsPort as number, 'swarm.local', 'DNSKEY');
    const anchors = (keys.answers ?? [])
      // The parent's DS names the key-signing key (SEP flag), as `swarm registry ds` prints it.
      .filter((record) => record.type === 'DNSKEY')
      .map((record) => record.data as { flags: number; algorithm: number; key: Buffer })
      .filter((data) => (data.flags & 1) === 1)
      .map((data) => {
        const ds = dsRecord('swarm.local', Buffer.concat([Buffer.from([data.flags >> 8, data.flags & 0xff, 3, data.algorithm]), data.key]));
        return `  trust-anchor: "swarm.local. DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest}"`;
      });
    assert.equal(anchors.length, 1);
    resolverPort = await freePort();
    unbound = startUnbound({
      dir: dir.path,
      port: resolverPort,
      anchors,
      stubs: [{ zone: 'swarm.local', port: proxy.port }],
      capsForId: true,
    });
    await eventually('unbound to answer', async () => ((await ask(resolverPort, 'swarm.local', 'SOA')).answers?.length ? true : undefined));
  });

  after(async () => {
    await stop(unbound);
    await proxy?.close();
    await registry?.close();
    dir.remove();
  });

  it('follows SRV to its target and the target to its address, validated (AD), with 0x20 case on', async () => {
    const srv = await ask(resolverPort, `_cms-article._tcp.${zone}`, 'SRV');
    assert.equal(srv.rcode, 'NOERROR');
    assert.equal(srv.flag_ad, true, 'validated');
    const [record] = (srv.answers ?? []).filter((answer) => answer.type === 'SRV') as SrvAnswer[];
    assert.ok(record, 'an SRV record');
    assert.ok(record.data.target.endsWith(`.${zone}`), `target ${record.data.target} inside the app zone`);
    const txt = await ask(resolverPort, `_cms-article._tcp.${zone}`, 'TXT');
    assert.equal(txt.flag_ad, true);
    const endpoint = (txt.answers ?? [])
      .flatMap((answer) => (answer.type === 'TXT' ? (answer.data as Buffer[]) : []))
      .map(String)
      .find((text) => text.startsWith('endpoint_url='));
    const host = new URL((endpoint as string).slice('endpoint_url='.length)).hostname;
    const a = await ask(resolverPort, record.data.target, 'A');
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(a.flag_ad, true);
    assert.deepEqual(
      (a.answers ?? []).filter((answer) => answer.type === 'A').map((answer) => (answer as StringAnswer).data),
      [host],
    );
  });

  it('validates the denial of a name that does not exist and of a type a name does not have', async () => {
    const missing = await ask(resolverPort, `_nope._tcp.${zone}`, 'SRV');
    assert.equal(missing.rcode, 'NXDOMAIN');
    assert.equal(missing.flag_ad, true);
    const unknownApp = await ask(resolverPort, 'abcdef.nothing.nobody.swarm.local', 'TXT');
    assert.equal(unknownApp.rcode, 'NXDOMAIN');
    assert.equal(unknownApp.flag_ad, true);
    const noData = await ask(resolverPort, `_cms-article._tcp.${zone}`, 'AAAA');
    assert.equal(noData.rcode, 'NOERROR');
    assert.equal(noData.answers?.length ?? 0, 0);
    assert.equal(noData.flag_ad, true);
  });

  it('validates the apex: SOA, NS and the name server address', async () => {
    for (const [name, type] of [
      ['swarm.local', 'SOA'],
      ['swarm.local', 'NS'],
      ['ns1.swarm.local', 'A'],
    ] as const) {
      const reply = await ask(resolverPort, name, type);
      assert.equal(reply.rcode, 'NOERROR', `${name} ${type}`);
      assert.equal(reply.flag_ad, true, `${name} ${type}`);
    }
  });

  it('refuses an answer changed on the way (SERVFAIL, bogus)', async () => {
    const tampered = await ask(resolverPort, `_cms-article._tcp.${tamperedZone}`, 'SRV');
    assert.equal(tampered.rcode, 'SERVFAIL');
    assert.equal(tampered.answers?.length ?? 0, 0);
    // The same zone's other records, untouched, still validate.
    const txt = await ask(resolverPort, `_cms-article._tcp.${tamperedZone}`, 'TXT');
    assert.equal(txt.flag_ad, true);
  });
});
