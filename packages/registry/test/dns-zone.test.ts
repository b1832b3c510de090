import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, keyTag, SwarmError } from '@swarm/protocol';
import type { RecordType } from 'dns-packet';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { nextSibling, predecessor, successor } from '../src/dns/denial.js';
import { type DnsInstance, parseNameServers, startDnsServer } from '../src/dns/index.js';
import { openDnsTcp } from './dns-tcp.js';
import {
  compareNames,
  dnskeyPublicKey,
  nameOf,
  type RawReply,
  readNsec,
  readRaw,
  readRrsig,
  TYPE,
  verifySection,
  wireName,
} from './dnssec-check.js';

const HOST = '127.0.0.1';
const ZONE = '7f8a9d.business_app.alice.swarm.local';
const BIG_ZONE = 'b1g2z3.many.bob.swarm.local';
const RCODE = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 };
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;

function instance(serviceType: string, serviceId: string, endpointUrl: string): DnsInstance {
  return { serviceType, serviceId, endpointUrl, publicKey: 'ed25519:key', tier: 'free', region: 'local' };
}

const zones = new Map<string, DnsInstance[]>([
  [
    ZONE,
    [
      instance('cms-article', 'cms-article-aaaaaaaaaa', 'http://127.0.0.1:7410/i/cms-article-aaaaaaaaaa/api/v1'),
      instance('cms-article', 'cms-article-bbbbbbbbbb', 'http://[2001:db8::7]:7410/i/cms-article-bbbbbbbbbb/api/v1'),
      instance('crm-contact', 'crm-contact-cccccccccc', 'https://crm.example.org/i/crm-contact-cccccccccc/api/v1'),
    ],
  ],
  [
    BIG_ZONE,
    Array.from({ length: 30 }, (_, n) =>
      instance('storage-blob', `storage-blob-${String(n).padStart(10, '0')}`, `http://127.0.0.1:${7500 + n}/i/x/api/v1`),
    ),
  ],
]);
const source = { instancesForZone: async (zone: string) => zones.get(zone) ?? null };

function query(name: string, type: RecordType | 'ANY', dnssecOk = true): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: Math.floor(Math.random() * 65536),
    questions: [{ name, type: type as RecordType }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        flag_do: dnssecOk,
        options: [],
      },
    ],
  });
}

async function udp(port: number, message: Buffer): Promise<{ raw: Buffer; reply: RawReply }> {
  const socket = createSocket('udp4');
  try {
    const received = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(message, port, HOST);
    const [raw] = await received;
    return { raw, reply: readRaw(raw) };
  } finally {
    socket.close();
  }
}

async function tcp(port: number, message: Buffer): Promise<RawReply> {
  const session = await openDnsTcp(HOST, port);
  try {
    session.send(message);
    return readRaw(await session.next());
  } finally {
    session.close();
  }
}

const names = (records: { owner: Buffer }[]) => records.map((record) => nameOf(record.owner).join('.'));
const ofType = (records: RawReply['answers'], type: number) => records.filter((record) => record.type === type);

describe('Service DNS as a zone: NS and glue at the apex, targets inside the zone', () => {
  let port: number;
  let close: () => Promise<void>;
  before(async () => {
    const server = await startDnsServer({ host: HOST, port: 0, authority: 'swarm.local', addressTargets: 'zone', source });
    port = server.port;
    close = server.close;
  });
  after(() => close());

  it('answers NS at the apex with ns1.<authority> and its address as glue, authoritatively', async () => {
    const { reply } = await udp(port, query('swarm.local', 'NS', false));
    assert.equal(reply.rcode, RCODE.NOERROR);
    assert.ok(reply.flags & FLAG_AA);
    assert.deepEqual(names(reply.answers), ['swarm.local']);
    assert.deepEqual(nameOf(reply.answers[0]?.rdata as Buffer), ['ns1', 'swarm', 'local']);
    assert.deepEqual(
      reply.additionals.map((record) => [nameOf(record.owner).join('.'), record.type, [...record.rdata].join('.')]),
      [['ns1.swarm.local', TYPE.A, '127.0.0.1']],
    );
    const host = (await udp(port, query('NS1.swarm.local', 'A', false))).reply;
    assert.deepEqual(
      ofType(host.answers, TYPE.A).map((record) => [...record.rdata].join('.')),
      ['127.0.0.1'],
    );
  });

  it('gives an unsigned zone no DNSKEY and no signatures even when DO is set', async () => {
    const { reply } = await udp(port, query('swarm.local', 'DNSKEY'));
    assert.equal(reply.answers.length, 0);
    const srv = (await udp(port, query(`_cms-article._tcp.${ZONE}`, 'SRV'))).reply;
    assert.equal([...srv.answers, ...srv.additionals].filter((record) => record.type === TYPE.RRSIG).length, 0);
  });

  it('refuses what lies outside the authority without the AA flag', async () => {
    const { reply } = await udp(port, query('ns1.example.org', 'A', false));
    assert.equal(reply.rcode, RCODE.REFUSED);
    assert.equal(reply.flags & FLAG_AA, 0);
  });
});

describe('name servers from --dns-ns', () => {
  it('publishes every name, glue only for names inside the authority, the first as the SOA primary', async () => {
    const nameServers = parseNameServers('NS1.swarm.local=192.0.2.1, ns1.swarm.local=[2001:db8::53],ns.example.net.');
    const server = await startDnsServer({ host: HOST, port: 0, authority: 'swarm.local', addressTargets: 'zone', source, nameServers });
    try {
      const { reply } = await udp(server.port, query('swarm.local', 'NS', false));
      assert.deepEqual(
        reply.answers.map((record) => nameOf(record.rdata).join('.')),
        ['ns1.swarm.local', 'ns.example.net'],
      );
      assert.deepEqual(
        reply.additionals.map((record) => [record.type, nameOf(record.owner).join('.')]),
        [
          [TYPE.A, 'ns1.swarm.local'],
          [TYPE.AAAA, 'ns1.swarm.local'],
        ],
      );
      const soa = (await udp(server.port, query('swarm.local', 'SOA', false))).reply.answers[0];
      assert.deepEqual(nameOf(soa?.rdata as Buffer).slice(0, 3), ['ns1', 'swarm', 'local']);
    } finally {
      await server.close();
    }
  });

  it('refuses a name server inside the authority without an address, and bad lists, with invalid_request', async () => {
    await assert.rejects(
      startDnsServer({
        host: HOST,
        port: 0,
        authority: 'swarm.local',
        addressTargets: 'zone',
        source,
        nameServers: parseNameServers('ns1.swarm.local'),
      }),
      (error: unknown) => error instanceof SwarmError && error.code === 'invalid_request',
    );
    for (const bad of [
      '',
      ',',
      'ns1',
      'ns1.example.org=1.2.3',
      'ns1.example.org=host.example',
      '-x.example.org',
      'a..b=1.2.3.4',
      'ns 1.example.org',
    ]) {
      assert.throws(
        () => parseNameServers(bad),
        (error: unknown) => error instanceof SwarmError && error.code === 'invalid_request',
        bad,
      );
    }
  });

  it('reads any list of host names and addresses back as written, and refuses anything else with invalid_request', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
    const host = fc.array(label, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.'));
    const address = fc.oneof(fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(fc.array(fc.tuple(host, fc.option(address)), { minLength: 1, maxLength: 16 }), (entries) => {
        const text = entries.map(([name, ip]) => (ip === null ? name : `${name}=${ip}`)).join(',');
        const parsed = parseNameServers(text);
        assert.deepEqual(
          parsed.map((server) => server.name),
          [...new Set(entries.map(([name]) => name))],
        );
        for (const [name, ip] of entries) if (ip !== null) assert.ok(parsed.find((server) => server.name === name)?.addresses.includes(ip));
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          parseNameServers(text);
        } catch (error) {
          assert.ok(error instanceof SwarmError && error.code === 'invalid_request');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('DNSSEC: online signing, Ed25519', () => {
  const first = generateSigningKey();
  const second = generateSigningKey();
  let port: number;
  let close: () => Promise<void>;
  const keys = new Map<number, ReturnType<typeof dnskeyPublicKey>>();

  before(async () => {
    const server = await startDnsServer({
      host: HOST,
      port: 0,
      authority: 'swarm.local',
      addressTargets: 'zone',
      source,
      dnssecKeys: [first.privateKey],
    });
    port = server.port;
    close = server.close;
    const { reply } = await udp(port, query('swarm.local', 'DNSKEY'));
    for (const record of ofType(reply.answers, TYPE.DNSKEY)) keys.set(keyTag(record.rdata), dnskeyPublicKey(record.rdata));
  });
  after(() => close());

  it('publishes the key-signing DNSKEY (257, algorithm 15) at the apex, the DNSKEY RRset signed by it alone', async () => {
    const { reply } = await udp(port, query('swarm.local', 'DNSKEY'));
    const [dnskey] = ofType(reply.answers, TYPE.DNSKEY);
    assert.equal(dnskey?.rdata.readUInt16BE(0), 257);
    assert.equal(dnskey?.rdata[3], 15);
    assert.equal(dnskey?.ttl, 3600);
    assert.deepEqual([...verifySection(reply.answers, keys).values()], [1]);
  });

  it('signs the answer and the additional records of an SRV query, valid now, by the zone', async () => {
    const { reply } = await udp(port, query(`_cms-article._tcp.${ZONE}`, 'SRV'));
    assert.equal(ofType(reply.answers, TYPE.SRV).length, 2);
    verifySection(reply.answers, keys);
    verifySection(reply.additionals, keys);
    const now = Math.floor(Date.now() / 1000);
    for (const record of [...reply.answers, ...reply.additionals].filter((r) => r.type === TYPE.RRSIG)) {
      const sig = readRrsig(record);
      assert.equal(sig.algorithm, 15);
      assert.deepEqual(sig.signer, ['swarm', 'local']);
      assert.equal(sig.labels, nameOf(record.owner).length);
      assert.ok(sig.inception <= now && now < sig.expiration);
    }
    // A and AAAA of the targets, inside the zone, signed as well.
    assert.deepEqual(names(reply.additionals.filter((r) => r.type === TYPE.A || r.type === TYPE.AAAA)), [
      `cms-article-aaaaaaaaaa.${ZONE}`,
      `cms-article-bbbbbbbbbb.${ZONE}`,
    ]);
  });

  it('keeps one signature per RRset and window: the same bytes for the same question', async () => {
    const a = (await udp(port, query(`cms-article-aaaaaaaaaa.${ZONE}`, 'A'))).reply;
    const b = await tcp(port, query(`CMS-article-aaaaaaaaaa.${ZONE}`, 'A'));
    assert.deepEqual(ofType(a.answers, TYPE.RRSIG)[0]?.rdata, ofType(b.answers, TYPE.RRSIG)[0]?.rdata);
  });

  it('sends no DNSSEC records to a client that did not set DO', async () => {
    for (const [name, type] of [
      [`_cms-article._tcp.${ZONE}`, 'SRV'],
      [`_nope._tcp.${ZONE}`, 'SRV'],
      [ZONE, 'TXT'],
    ] as const) {
      const { reply } = await udp(port, query(name, type, false));
      const all = [...reply.answers, ...reply.authorities, ...reply.additionals];
      assert.equal(all.filter((record) => record.type === TYPE.RRSIG || record.type === TYPE.NSEC).length, 0, name);
    }
  });

  for (const [what, name, encloser] of [
    ['an unknown service type', `_nope._tcp.${ZONE}`, `_tcp.${ZONE}`],
    ['a name below an address target', `x.y.cms-article-aaaaaaaaaa.${ZONE}`, `cms-article-aaaaaaaaaa.${ZONE}`],
    ['an unknown app', 'abcdef.business_app.alice.swarm.local', 'business_app.alice.swarm.local'],
    ['a label no namespace can have', 'Bad!.swarm.local', 'swarm.local'],
    ['a wildcard-looking name', '*.swarm.local', 'swarm.local'],
  ] as const) {
    it(`proves NXDOMAIN for ${what} with the SOA and two NSECs around the name and the wildcard`, async () => {
      const { reply } = await udp(port, query(name, 'A'));
      assert.equal(reply.rcode, RCODE.NXDOMAIN);
      assert.ok(reply.flags & FLAG_AA);
      verifySection(reply.authorities, keys);
      assert.deepEqual(names(ofType(reply.authorities, TYPE.SOA)), ['swarm.local']);
      const qname = name.toLowerCase().split('.');
      const ce = encloser.split('.');
      const nsecs = ofType(reply.authorities, TYPE.NSEC);
      assert.ok(nsecs.length >= 1 && nsecs.length <= 2);
      const covers = (target: string[]) =>
        nsecs.some((record) => compareNames(nameOf(record.owner), target) < 0 && compareNames(target, readNsec(record).next) < 0);
      assert.ok(covers(qname), 'the name is covered');
      assert.ok(covers(['*', ...ce]), 'the wildcard at the closest encloser is covered');
      for (const record of nsecs) {
        // Each shares exactly the closest encloser with the name: that is how a validator finds it.
        const shared = (labels: string[]) => {
          let count = 0;
          while (count < labels.length && labels.at(-1 - count) === qname.at(-1 - count)) count++;
          return count;
        };
        assert.equal(Math.max(shared(nameOf(record.owner)), shared(readNsec(record).next)), ce.length);
        assert.ok(!covers(ce), 'the closest encloser itself is not denied');
        assert.deepEqual(readNsec(record).types, [TYPE.RRSIG, TYPE.NSEC]);
      }
    });
  }

  it('proves NODATA with an NSEC at the name listing the types it has', async () => {
    const { reply } = await udp(port, query(`cms-article-aaaaaaaaaa.${ZONE}`, 'AAAA'));
    assert.equal(reply.rcode, RCODE.NOERROR);
    assert.equal(reply.answers.length, 0);
    verifySection(reply.authorities, keys);
    const [nsec] = ofType(reply.authorities, TYPE.NSEC);
    assert.deepEqual(nameOf(nsec?.owner as Buffer), `cms-article-aaaaaaaaaa.${ZONE}`.split('.'));
    assert.deepEqual(readNsec(nsec as RawReply['answers'][number]).types, [TYPE.A, TYPE.RRSIG, TYPE.NSEC]);
    const apex = (await udp(port, query('swarm.local', 'DS'))).reply;
    assert.deepEqual(readNsec(ofType(apex.authorities, TYPE.NSEC)[0] as RawReply['answers'][number]).types, [
      TYPE.NS,
      TYPE.SOA,
      TYPE.RRSIG,
      TYPE.NSEC,
      TYPE.DNSKEY,
    ]);
  });

  it('truncates a signed answer too big for UDP and serves it whole, signed, over TCP', async () => {
    const { reply } = await udp(port, query(`_storage-blob._tcp.${BIG_ZONE}`, 'SRV'));
    assert.ok(reply.flags & FLAG_TC);
    assert.equal(reply.answers.length, 0);
    const whole = await tcp(port, query(`_storage-blob._tcp.${BIG_ZONE}`, 'SRV'));
    assert.equal(ofType(whole.answers, TYPE.SRV).length, 30);
    verifySection(whole.answers, keys);
    verifySection(whole.additionals, keys);
  });

  it('signs with every key during a rollover, and publishes both', async () => {
    const both = await startDnsServer({
      host: HOST,
      port: 0,
      authority: 'swarm.local',
      source,
      dnssecKeys: [first.privateKey, second.privateKey],
    });
    try {
      const dnskeys = (await udp(both.port, query('swarm.local', 'DNSKEY'))).reply;
      const all = new Map<number, ReturnType<typeof dnskeyPublicKey>>();
      for (const record of ofType(dnskeys.answers, TYPE.DNSKEY)) all.set(keyTag(record.rdata), dnskeyPublicKey(record.rdata));
      // Two keys, each with the zone-signing key derived from it.
      assert.equal(all.size, 4);
      const { reply } = await udp(both.port, query(`_cms-article._tcp.${ZONE}`, 'SRV'));
      assert.deepEqual([...verifySection(reply.answers, all).values()], [1, 1]);
    } finally {
      await both.close();
    }
  });

  it('refuses a key that is not Ed25519', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await assert.rejects(
      startDnsServer({ host: HOST, port: 0, authority: 'swarm.local', addressTargets: 'zone', source, dnssecKeys: [privateKey] }),
      RangeError,
    );
  });
});

describe('the made-up neighbours of a denied name', () => {
  // Any bytes, as a question may carry them (lowercase ASCII: names compare case-insensitively).
  const label = fc.oneof(
    fc.stringMatching(/^[a-z0-9_-]{1,12}$/),
    fc.uint8Array({ minLength: 1, maxLength: 63 }).map((bytes) =>
      Buffer.from(bytes)
        .toString('latin1')
        .replace(/[A-Z]/g, (c) => c.toLowerCase()),
    ),
  );
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => [...labels, 'swarm', 'local']);
  const fits = (labels: string[]) => labels.reduce((sum, l) => sum + 1 + Buffer.byteLength(l, 'latin1'), 1) <= 255;

  it('sort just before and just after the name, below the same parent (RFC 4034 §6.1)', () => {
    fc.assert(
      fc.property(name.filter(fits), (labels) => {
        const before = predecessor(labels);
        const parent = labels.slice(1);
        if (before) {
          assert.ok(compareNames(nameOf(before), labels) < 0);
          assert.ok(compareNames(nameOf(before), parent) > 0, 'after the parent');
        }
        const after = nextSibling(labels);
        assert.ok(compareNames(labels, nameOf(after)) < 0);
        assert.ok(compareNames(nameOf(successor(labels)), nameOf(after)) <= 0, 'the first child comes before the next sibling');
        // Nothing a zone name (letters, digits, '-', '_') can be lies strictly between.
        const zoneName = fc.sample(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), 20).map((l) => [l, ...parent]);
        for (const other of zoneName) {
          if (compareNames(other, labels) === 0) continue;
          const inside = before && compareNames(nameOf(before), other) < 0 && compareNames(other, labels) < 0;
          assert.ok(!inside, `${other.join('.')} falls between`);
        }
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(nameOf(wireName('a.b')), ['a', 'b']);
  });
});
