import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { eventually, freePort, stop, tempDir } from '@swarm/dev-env';
import { appDnsZone, dsRecord, keyTag } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import type { DnsInstance } from '../src/dns/index.js';
import { type RegistryHandle, startRegistry } from '../src/index.js';
import { openDnsTcp } from './dns-tcp.js';
import { signedZoneServer, soaSerial, transfer, transferQuery } from './dns-transfer-client.js';
import { dnskeyPublicKey, nameOf, type RawRecord, readNsec, readRaw, TYPE, verifySection } from './dnssec-check.js';
import { boundInstance, developerWithApp, listedProvider, postgresBackend } from './helpers.js';
import { startUnbound } from './unbound.js';

const HOST = '127.0.0.1';
const REFUSED = 5;
const run = promisify(execFile);

/** A stock program (Debian packages nsd, bind9-utils, dnsutils), or why its test is skipped. */
function missing(program: string, args: string[], packageName: string): string | false {
  return spawnSync(program, args, { stdio: 'ignore' }).error === undefined
    ? false
    : `${program} is not on PATH (Debian: apt-get install ${packageName})`;
}
const digMissing = missing('dig', ['-v'], 'dnsutils');
const checkzoneMissing = missing('named-checkzone', ['-v'], 'bind9-utils');
const verifyMissing = missing('dnssec-verify', ['-V'], 'bind9-utils');
const nsdMissing = missing('nsd', ['-v'], 'nsd');
const unboundMissing = missing('unbound', ['-V'], 'unbound');

async function soaQuery(port: number): Promise<number> {
  const connection = await openDnsTcp(HOST, port);
  try {
    connection.send(dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'swarm.local', type: 'SOA' }] }));
    const [soa] = readRaw(await connection.next()).answers;
    return soaSerial(soa as RawRecord);
  } finally {
    connection.close();
  }
}

const byType = (records: RawRecord[], type: number) => records.filter((record) => record.type === type);
const names = (records: RawRecord[]) => [...new Set(records.map((record) => nameOf(record.owner).join('.')))];

describe('Service DNS zone transfer (AXFR) to listed secondaries', () => {
  let registry: RegistryHandle;
  let port: number;
  let zone: string;
  let seed: { dev: Awaited<ReturnType<typeof developerWithApp>>['dev']; appId: string };
  const dir = tempDir('transfer');

  before(async () => {
    registry = await startRegistry({
      logLevel: false,
      dnsPort: 0,
      dnsAddressTargets: 'zone',
      dnsAllowTransfer: ['192.0.2.0/24', HOST],
      dnsLimits: { responsesPerSecond: 0 },
    });
    port = registry.dnsPort as number;
    for (let i = 0; i < 2; i++) {
      const { dev, appId } = await developerWithApp(registry);
      await boundInstance(registry, dev, appId, await listedProvider(registry));
      seed = { dev, appId };
      zone = appDnsZone(appId).slice(0, -1);
    }
  });
  after(async () => {
    await registry?.close();
    dir.remove();
  });

  it('sends the whole zone between two SOAs, signed: every RRset verifies, a full NSEC chain over every name', async () => {
    const axfr = await transfer(port, transferQuery('swarm.local', 'AXFR'));
    assert.equal(axfr.rcode, 0);
    const { records } = axfr;
    assert.equal(records[0]?.type, TYPE.SOA);
    assert.equal(records.at(-1)?.type, TYPE.SOA);
    assert.ok(records[0]?.rdata.equals((records.at(-1) as RawRecord).rdata), 'the same SOA opens and closes it');
    assert.equal(soaSerial(records[0] as RawRecord), await soaQuery(port), 'the serial an SOA query reads');
    const body = records.slice(0, -1);
    assert.equal(byType(body, TYPE.SRV).length, 2);
    assert.equal(byType(body, TYPE.A).length, 3, 'two targets and the name server');
    const dnskeys = byType(body, TYPE.DNSKEY);
    assert.deepEqual(dnskeys.map((key) => key.rdata.readUInt16BE(0)).sort(), [256, 257]);
    const keys = new Map(dnskeys.map((key) => [keyTag(key.rdata), dnskeyPublicKey(key.rdata)]));
    const verified = verifySection(body, keys);
    const [kskTag] = dnskeys.filter((key) => key.rdata.readUInt16BE(0) === 257).map((key) => keyTag(key.rdata));
    assert.equal(verified.get(kskTag as number), 1, 'the key-signing key signs the DNSKEY RRset only');
    // NSEC: one per name that owns records, each pointing at the next, the last back at the apex.
    const owners = names(body.filter((record) => record.type !== TYPE.RRSIG && record.type !== TYPE.NSEC));
    const nsecs = byType(body, TYPE.NSEC);
    assert.deepEqual(names(nsecs).sort(), [...owners].sort());
    const next = new Map(nsecs.map((nsec) => [nameOf(nsec.owner).join('.'), readNsec(nsec).next.join('.')]));
    let at = 'swarm.local';
    for (let step = 0; step < owners.length; step++) at = next.get(at) as string;
    assert.equal(at, 'swarm.local', 'the chain goes through every name and back to the apex');
    const seen = new Set<string>();
    for (let step = 0, name = 'swarm.local'; step < owners.length; step++, name = next.get(name) as string) seen.add(name);
    assert.equal(seen.size, owners.length);
    const apexTypes = readNsec(nsecs.find((nsec) => nameOf(nsec.owner).join('.') === 'swarm.local') as RawRecord).types;
    assert.deepEqual(apexTypes, [TYPE.NS, TYPE.SOA, TYPE.RRSIG, TYPE.NSEC, TYPE.DNSKEY]);
  });

  it('moves the serial when the zone changes; IXFR from the current serial is the SOA alone, from an older one the whole zone', async () => {
    const before = await soaQuery(port);
    const up = await transfer(port, transferQuery('swarm.local', 'IXFR', before));
    assert.equal(up.records.length, 1);
    assert.equal(soaSerial(up.records[0] as RawRecord), before);
    await boundInstance(registry, seed.dev, seed.appId, await listedProvider(registry));
    const after = await soaQuery(port);
    assert.ok(after > before, `serial ${after} after ${before}`);
    const full = await transfer(port, transferQuery('swarm.local', 'IXFR', before));
    assert.equal(soaSerial(full.records[0] as RawRecord), after);
    assert.equal(byType(full.records, TYPE.SRV).length, 3, 'the new instance is in it');
    assert.equal(byType(full.records, TYPE.SOA).length, 2);
  });

  it('refuses a transfer of a name below the apex and AXFR over UDP', async () => {
    const below = await transfer(port, transferQuery(zone, 'AXFR'));
    assert.equal(below.rcode, REFUSED);
    const socket = createSocket('udp4');
    try {
      const answer = new Promise<Buffer>((resolve) => socket.once('message', resolve));
      socket.send(transferQuery('swarm.local', 'AXFR'), port, HOST);
      assert.equal(readRaw(await answer).rcode, REFUSED);
    } finally {
      socket.close();
    }
  });

  describe('read by stock tools', { skip: digMissing }, () => {
    let file: string;
    before(async () => {
      const { stdout } = await run('dig', [`@${HOST}`, '-p', String(port), 'AXFR', 'swarm.local', '+nocmd', '+nostats', '+time=5']);
      file = join(dir.path, 'swarm.local.zone');
      writeFileSync(file, stdout);
    });

    it('named-checkzone loads what dig axfr wrote', { skip: checkzoneMissing }, async () => {
      // Slugs hold `_` (SPEC §4), which check-names flags in owner names of A records: a warning, not an error.
      const { stdout } = await run('named-checkzone', ['-k', 'ignore', 'swarm.local', file]);
      assert.match(stdout, /loaded serial \d+ \(DNSSEC signed\)/);
      assert.match(stdout, /^OK$/m);
    });

    it('dnssec-verify finds it fully signed (a KSK and a ZSK, NSEC complete)', { skip: verifyMissing }, async () => {
      const { stdout, stderr } = await run('dnssec-verify', ['-o', 'swarm.local', file]);
      assert.match(`${stdout}${stderr}`, /Zone fully signed/);
    });
  });

  describe('nsd as a secondary (request-xfr)', { skip: nsdMissing }, () => {
    let nsd: { child: ReturnType<typeof spawn> };
    let nsdPort: number;
    const name = () => `_cms-article._tcp.${zone}`;

    before(async () => {
      nsdPort = await freePort();
      const nsdDir = join(dir.path, 'nsd');
      mkdirSync(nsdDir, { recursive: true });
      const config = join(nsdDir, 'nsd.conf');
      writeFileSync(
        config,
        [
          'server:',
          `  ip-address: ${HOST}@${nsdPort}`,
          '  username: ""',
          '  chroot: ""',
          `  zonesdir: "${nsdDir}"`,
          '  database: ""',
          `  pidfile: "${nsdDir}/nsd.pid"`,
          `  xfrdfile: "${nsdDir}/xfrd.state"`,
          `  xfrdir: "${nsdDir}"`,
          `  zonelistfile: "${nsdDir}/zone.list"`,
          '  server-count: 1',
          '  do-ip6: no',
          '  verbosity: 0',
          'remote-control:',
          '  control-enable: no',
          'zone:',
          '  name: "swarm.local"',
          '  zonefile: "swarm.local.zone"',
          `  request-xfr: ${HOST}@${port} NOKEY`,
          '',
        ].join('\n'),
      );
      nsd = { child: spawn('nsd', ['-d', '-c', config], { stdio: 'ignore' }) };
      await eventually('nsd to load the zone', async () => ((await srvOf(nsdPort).catch(() => [])).length > 0 ? true : undefined));
    });
    after(() => stop(nsd));

    async function srvOf(server: number): Promise<string[]> {
      const connection = await openDnsTcp(HOST, server);
      try {
        connection.send(dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: name(), type: 'SRV' }] }));
        // nsd compresses names: read with dns-packet.
        const reply = dnsPacket.decode(await connection.next());
        return (reply.answers ?? []).flatMap((record) => (record.type === 'SRV' ? [JSON.stringify(record.data)] : []));
      } finally {
        connection.close();
      }
    }

    it('loads the zone and answers the same SRV as the registry', async () => {
      const [fromNsd, fromRegistry] = [await srvOf(nsdPort), await srvOf(port)];
      assert.deepEqual(fromNsd.sort(), fromRegistry.sort(), `nsd ${fromNsd.join(' ')}; registry ${fromRegistry.join(' ')}`);
    });

    it("serves a copy unbound validates with the registry's DS as trust anchor: answers and NXDOMAIN (the NSEC chain)", {
      skip: unboundMissing,
    }, async () => {
      const connection = await openDnsTcp(HOST, port);
      connection.send(dnsPacket.encode({ type: 'query', id: 3, questions: [{ name: 'swarm.local', type: 'DNSKEY' }] }));
      const ksk = byType(readRaw(await connection.next()).answers, TYPE.DNSKEY).find((key) => key.rdata.readUInt16BE(0) === 257);
      connection.close();
      const ds = dsRecord('swarm.local', (ksk as RawRecord).rdata);
      const resolverPort = await freePort();
      const unbound = startUnbound({
        dir: dir.path,
        port: resolverPort,
        anchors: [`  trust-anchor: "swarm.local. DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest}"`],
        stubs: [{ zone: 'swarm.local', port: nsdPort }],
      });
      try {
        const ask = async (qname: string, type: 'SRV' | 'A') => {
          const socket = createSocket('udp4');
          try {
            const reply = new Promise<Buffer>((resolve, reject) => {
              socket.once('message', resolve);
              setTimeout(() => reject(new Error('no answer')), 1000).unref();
            });
            // DO set: a validating resolver sets AD only for a client that asks for DNSSEC (RFC 6840 §5.8).
            const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as unknown as dnsPacket.Answer;
            const query: dnsPacket.Packet = {
              type: 'query',
              id: 5,
              flags: dnsPacket.RECURSION_DESIRED,
              questions: [{ name: qname, type }],
              additionals: [opt],
            };
            socket.send(dnsPacket.encode(query), resolverPort, HOST);
            return dnsPacket.decode(await reply) as ReturnType<typeof dnsPacket.decode> & { rcode?: string };
          } finally {
            socket.close();
          }
        };
        const srv = await eventually('unbound to answer', async () => (await ask(name(), 'SRV').catch(() => undefined)) ?? undefined);
        assert.equal(srv.rcode, 'NOERROR');
        assert.equal(srv.flag_ad, true, 'validated');
        assert.ok((srv.answers ?? []).some((record) => record.type === 'SRV'));
        const missingName = await ask(`nope.${zone}`, 'A');
        assert.equal(missingName.rcode, 'NXDOMAIN');
        assert.equal(missingName.flag_ad, true, 'the denial validated: the transferred NSEC chain proves it');
      } finally {
        await stop(unbound);
      }
    });
  });
});

describe('Service DNS zone transfer of a zone larger than one message', () => {
  it('spreads it over several messages, every record once, signed, the chain whole', async () => {
    const zones = new Map<string, DnsInstance[]>();
    for (let app = 0; app < 100; app++) {
      const zone = `a${String(app).padStart(5, '0')}.shop.bob.swarm.local`;
      zones.set(
        zone,
        [0, 1].map((n) => ({
          serviceType: 'cms-article',
          serviceId: `cms-article-${app}-${n}`,
          endpointUrl: `http://10.0.${app % 250}.${n + 1}:7410/i/${app}`,
          publicKey: 'Zm9vYmFy',
          tier: 'free',
          region: 'local',
        })),
      );
    }
    const server = await signedZoneServer(zones);
    try {
      const axfr = await transfer(server.port, transferQuery('swarm.local', 'AXFR'));
      assert.ok(axfr.messages > 1, `${axfr.messages} messages`);
      const body = axfr.records.slice(0, -1);
      assert.equal(byType(body, TYPE.SRV).length, 200);
      assert.equal(byType(body, TYPE.A).length, 201, 'every target and the name server');
      const keys = new Map(byType(body, TYPE.DNSKEY).map((key) => [keyTag(key.rdata), dnskeyPublicKey(key.rdata)]));
      verifySection(body, keys);
      const unique = new Set(body.map((record) => `${record.owner.toString('hex')}/${record.type}/${record.rdata.toString('hex')}`));
      assert.equal(unique.size, body.length, 'no record twice');
      assert.equal(byType(body, TYPE.NSEC).length, names(body.filter((r) => r.type !== TYPE.RRSIG && r.type !== TYPE.NSEC)).length);
    } finally {
      await server.close();
    }
  });
});

describe('Service DNS zone transfer: changes nobody announces', () => {
  it('moves the serial when an instance that never beat drops out by time alone: IXFR from the old serial gets the zone without it', async () => {
    const registry = await startRegistry({ logLevel: false, dnsPort: 0, heartbeatIntervalSeconds: 1, dnsAllowTransfer: [HOST] });
    try {
      const port = registry.dnsPort as number;
      const { dev, appId } = await developerWithApp(registry);
      await boundInstance(registry, dev, appId, await listedProvider(registry));
      const first = await transfer(port, transferQuery('swarm.local', 'AXFR'));
      assert.equal(byType(first.records, TYPE.SRV).length, 1);
      const serial = soaSerial(first.records[0] as RawRecord);
      // Three missed beats (3 s) later the instance is unhealthy; no change was written or announced.
      const later = await eventually('the instance to drop out', async () => {
        const ixfr = await transfer(port, transferQuery('swarm.local', 'IXFR', serial));
        // The SOA alone means "nothing new"; the whole zone comes with a new serial.
        return ixfr.records.length > 1 && byType(ixfr.records, TYPE.SRV).length === 0 ? ixfr : undefined;
      });
      assert.ok(soaSerial(later.records[0] as RawRecord) > serial, 'a new serial for the new records');
      assert.ok((await soaQuery(port)) > serial, 'and the SOA a secondary polls says so');
    } finally {
      await registry.close();
    }
  });
});

const postgres = postgresBackend();
describe('Service DNS zone transfer on PostgreSQL: replicas on one database send the same records', { skip: postgres.skip }, () => {
  after(() => postgres.cleanup());

  it('lists every healthy instance of every app from the database, on each replica', async () => {
    const options = { dnsPort: 0, dnsAllowTransfer: [HOST], dnsAddressTargets: 'zone' as const };
    const first = await postgres.start(options);
    const second = await postgres.start(options);
    try {
      for (let i = 0; i < 2; i++) {
        const { dev, appId } = await developerWithApp(first);
        await boundInstance(first, dev, appId, await listedProvider(first));
      }
      const records = async (registry: RegistryHandle) => {
        const axfr = await transfer(registry.dnsPort as number, transferQuery('swarm.local', 'AXFR'));
        // Signatures and serials are each replica's own moment; the records themselves must agree.
        return axfr.records
          .filter((record) => record.type !== TYPE.RRSIG && record.type !== TYPE.SOA)
          .map((record) => `${record.owner.toString('hex')}/${record.type}/${record.rdata.toString('hex')}`)
          .sort();
      };
      const fromFirst = await records(first);
      assert.equal(fromFirst.filter((key) => key.includes(`/${TYPE.SRV}/`)).length, 2);
      assert.deepEqual(await records(second), fromFirst);
    } finally {
      await second.close();
      await first.close();
    }
  });
});

describe('Service DNS zone transfer refused', () => {
  it('to an address the allow-list does not hold, and to everyone by default', async () => {
    const elsewhere = await startRegistry({ logLevel: false, dnsPort: 0, dnsAllowTransfer: ['192.0.2.7', '2001:db8::/32'] });
    const nobody = await startRegistry({ logLevel: false, dnsPort: 0 });
    try {
      for (const registry of [elsewhere, nobody]) {
        const port = registry.dnsPort as number;
        assert.equal((await transfer(port, transferQuery('swarm.local', 'AXFR'))).rcode, REFUSED);
        assert.equal((await transfer(port, transferQuery('swarm.local', 'IXFR', 1))).rcode, REFUSED);
        // Still answering ordinary queries on the same connection type.
        assert.ok((await soaQuery(port)) > 0);
      }
    } finally {
      await elsewhere.close();
      await nobody.close();
    }
  });
});
