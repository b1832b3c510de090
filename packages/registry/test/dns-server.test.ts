import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Answer, DecodedPacket, Packet, RecordType, SoaAnswer, SrvAnswer, StringAnswer, TxtAnswer } from 'dns-packet';
import dnsPacket from 'dns-packet';
import { type DnsInstance, type DnsZoneSource, startDnsServer } from '../src/dns/index.js';
import { frame, openDnsTcp } from './dns-tcp.js';

const HOST = '127.0.0.1';
const ZONE = '7f8a9d.business_app.alice.swarm.local';
const BIG_ZONE = 'b1g2z3.many.bob.swarm.local';
const MID_ZONE = 'm1d2z3.some.erin.swarm.local';
const QUIET_ZONE = 'e0e0e0.quiet.carol.swarm.local';
const BROKEN_ZONE = 'fa11ed.broken.dave.swarm.local';
const EDGE_ZONE = 'ed6e00.edge.frank.swarm.local';
const LONGEST_TYPE = `s${'x'.repeat(61)}`;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const PUBLIC_KEY = 'Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg';

function instance(serviceType: string, serviceId: string, endpointUrl: string, extra: Partial<DnsInstance> = {}): DnsInstance {
  return { serviceType, serviceId, endpointUrl, publicKey: PUBLIC_KEY, tier: 'free', region: 'local', ...extra };
}

const zones = new Map<string, DnsInstance[]>([
  [
    ZONE,
    [
      instance('cms-article', 'cms-article-aaaaaaaaaa', 'http://127.0.0.1:7410/i/cms-article-aaaaaaaaaa/api/v1'),
      instance('cms-article', 'cms-article-bbbbbbbbbb', 'http://127.0.0.1:7410/i/cms-article-bbbbbbbbbb/api/v1', {
        tier: 'pro_cluster',
        region: 'eu-central-1',
      }),
      instance('auth', 'auth-cccccccccc', 'https://auth.example.org/i/auth-cccccccccc', { tier: null, region: null }),
      instance('crm-contact', 'crm-contact-dddddddddd', 'http://crm.example.org:8080/i/crm-contact-dddddddddd/api/v1'),
      instance('storage-blob', 'storage-blob-unusable', 'ftp://files.example.org/blob'),
    ],
  ],
  [
    BIG_ZONE,
    Array.from({ length: 40 }, (_, n) =>
      instance('storage-blob', `storage-blob-${String(n).padStart(10, '0')}`, `http://127.0.0.1:${7500 + n}/i/storage-blob-${n}/api/v1`),
    ),
  ],
  [
    MID_ZONE,
    Array.from({ length: 4 }, (_, n) =>
      instance('crm-contact', `crm-contact-${String(n).padStart(10, '0')}`, `http://127.0.0.1:7411/i/crm-contact-${n}/api/v1`),
    ),
  ],
  [QUIET_ZONE, []],
  [
    EDGE_ZONE,
    [
      instance('blob-v6', 'blob-v6-0000000000', 'http://[::1]:7420/i/blob-v6-0000000000/api/v1'),
      instance(LONGEST_TYPE, 'longest-type-0000', 'https://longest.example.org'),
      instance(`${LONGEST_TYPE}y`, 'too-long-type-000', 'https://too-long.example.org'),
      instance('long-url', 'long-url-00000000', `https://long.example.org/${'p'.repeat(240)}`),
    ],
  ],
]);

const asked: string[] = [];
const warnings: { serviceId?: string }[] = [];
const source: DnsZoneSource = {
  async instancesForZone(zone) {
    asked.push(zone);
    if (zone === BROKEN_ZONE) throw new Error('database is down');
    return zones.get(zone) ?? null;
  },
};

interface QueryOptions {
  id?: number;
  edns?: { payload: number; version?: number; dnssecOk?: boolean };
  class?: 'IN' | 'CH' | 'ANY';
}

function query(name: string, type: RecordType | 'ANY', options: QueryOptions = {}): Buffer {
  const packet: Packet = {
    type: 'query',
    id: options.id ?? Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: options.class ?? 'IN' }],
  };
  if (options.edns) {
    packet.additionals = [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: options.edns.payload,
        extendedRcode: 0,
        ednsVersion: options.edns.version ?? 0,
        flags: options.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
        flag_do: options.edns.dnssecOk ?? false,
        options: [],
      },
    ];
  }
  return dnsPacket.encode(packet);
}

interface Reply {
  raw: Buffer;
  packet: DecodedPacket;
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

function reply(raw: Buffer): Reply {
  const packet = dnsPacket.decode(raw);
  return {
    raw,
    packet,
    rcode: raw.readUInt8(3) & 0xf,
    answers: packet.answers ?? [],
    authorities: packet.authorities ?? [],
    additionals: (packet.additionals ?? []).filter((record) => record.type !== 'OPT'),
  };
}

async function udpExchange(port: number, message: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  const socket = createSocket('udp4');
  try {
    const received = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(message, port, HOST);
    const timeout = new Promise<null>((resolve) => setTimeout(resolve, timeoutMs, null).unref());
    const result = await Promise.race([received, timeout]);
    return result ? result[0] : null;
  } finally {
    socket.close();
  }
}

async function udp(port: number, message: Buffer): Promise<Reply> {
  const raw = await udpExchange(port, message);
  assert.ok(raw, 'no UDP reply');
  return reply(raw);
}

async function openTcp(port: number) {
  const session = await openDnsTcp(HOST, port);
  return { ...session, next: async (timeoutMs?: number): Promise<Reply> => reply(await session.next(timeoutMs)) };
}

async function tcp(port: number, message: Buffer): Promise<Reply> {
  const session = await openTcp(port);
  try {
    session.send(message);
    return await session.next();
  } finally {
    session.close();
  }
}

function assertNegative(result: Reply, rcode: number): void {
  assert.equal(result.rcode, rcode);
  assert.equal(result.packet.flag_aa, true, 'authoritative');
  assert.equal(result.answers.length, 0);
  assert.equal(result.authorities.length, 1);
  const soa = result.authorities[0] as SoaAnswer;
  assert.equal(soa.type, 'SOA');
  assert.equal(soa.name, 'swarm.local');
  assert.equal(soa.data.mname, 'ns1.swarm.local');
  assert.equal(soa.data.rname, 'hostmaster.swarm.local');
}

function txtStrings(record: Answer): string[] {
  assert.equal(record.type, 'TXT');
  return ((record as TxtAnswer).data as Buffer[]).map((value) => value.toString('utf8'));
}

describe('Service DNS over DNS', () => {
  let port: number;
  let close: () => Promise<void>;

  before(async () => {
    // Targets inside the zone (docs/DNS.md, "Targets"); the SPEC §7 default is tested below.
    const server = await startDnsServer({
      host: HOST,
      port: 0,
      authority: 'swarm.local',
      source,
      addressTargets: 'zone',
      logger: { warn: (obj) => warnings.push(obj as { serviceId?: string }) },
    });
    port = server.port;
    close = server.close;
  });
  after(() => close());

  describe('records of an app zone', () => {
    it('answers SRV for each instance of a type, with TXT and the addresses of its targets inside the zone', async () => {
      const result = await udp(port, query(`_cms-article._tcp.${ZONE}`, 'SRV', { edns: { payload: 1232 } }));
      assert.equal(result.rcode, RCODE.NOERROR);
      assert.equal(result.packet.flag_aa, true);
      assert.equal(result.packet.flag_tc, false);
      assert.equal(result.packet.flag_rd, true, 'RD is copied');
      assert.equal(result.packet.flag_ra, false);
      const srv = result.answers as SrvAnswer[];
      assert.deepEqual(
        srv.map((record) => [record.type, record.name, record.data.priority, record.data.weight, record.data.port, record.data.target]),
        [
          ['SRV', `_cms-article._tcp.${ZONE}`, 0, 0, 7410, `cms-article-aaaaaaaaaa.${ZONE}`],
          ['SRV', `_cms-article._tcp.${ZONE}`, 0, 0, 7410, `cms-article-bbbbbbbbbb.${ZONE}`],
        ],
      );
      assert.ok(
        srv.every((record) => record.ttl === 30),
        'default TTL is 30 s',
      );
      const txt = result.additionals.filter((record) => record.type === 'TXT');
      assert.equal(txt.length, 2);
      const a = result.additionals.filter((record) => record.type === 'A') as StringAnswer[];
      assert.deepEqual(
        a.map((record) => [record.name, record.data]),
        [
          [`cms-article-aaaaaaaaaa.${ZONE}`, '127.0.0.1'],
          [`cms-article-bbbbbbbbbb.${ZONE}`, '127.0.0.1'],
        ],
      );
    });

    it('answers A for the target name of an address, NODATA for other types, NXDOMAIN below it', async () => {
      const a = await udp(port, query(`CMS-article-aaaaaaaaaa.${ZONE}`, 'A'));
      assert.equal(a.rcode, RCODE.NOERROR);
      assert.equal(a.packet.flag_aa, true);
      assert.deepEqual(
        a.answers.map((record) => [record.name, (record as StringAnswer).data]),
        [[`cms-article-aaaaaaaaaa.${ZONE}`, '127.0.0.1']],
      );
      assertNegative(await udp(port, query(`cms-article-aaaaaaaaaa.${ZONE}`, 'AAAA')), RCODE.NOERROR);
      assertNegative(await udp(port, query(`x.cms-article-aaaaaaaaaa.${ZONE}`, 'A')), RCODE.NXDOMAIN);
      // A host name stays a host name: nothing is made up for it.
      assertNegative(await udp(port, query(`crm-contact-dddddddddd.${ZONE}`, 'A')), RCODE.NXDOMAIN);
    });

    it('takes the SRV port from the endpoint URL, or 80/443 by scheme', async () => {
      const auth = await udp(port, query(`_auth._tcp.${ZONE}`, 'SRV'));
      assert.deepEqual((auth.answers[0] as SrvAnswer).data, { priority: 0, weight: 0, port: 443, target: 'auth.example.org' });
      const crm = await udp(port, query(`_crm-contact._tcp.${ZONE}`, 'SRV'));
      assert.deepEqual((crm.answers[0] as SrvAnswer).data, { priority: 0, weight: 0, port: 8080, target: 'crm.example.org' });
      assert.equal(crm.additionals.filter((record) => record.type === 'A').length, 0, 'no address for a host name');
    });

    it('answers TXT with one record per instance, leaving out a null tier or region', async () => {
      const cms = await udp(port, query(`_cms-article._tcp.${ZONE}`, 'TXT', { edns: { payload: 1232 } }));
      assert.equal(cms.rcode, RCODE.NOERROR);
      assert.deepEqual(cms.answers.map(txtStrings), [
        [
          'service_id=cms-article-aaaaaaaaaa',
          'endpoint_url=http://127.0.0.1:7410/i/cms-article-aaaaaaaaaa/api/v1',
          `public_key=${PUBLIC_KEY}`,
          'tier=free',
          'region=local',
        ],
        [
          'service_id=cms-article-bbbbbbbbbb',
          'endpoint_url=http://127.0.0.1:7410/i/cms-article-bbbbbbbbbb/api/v1',
          `public_key=${PUBLIC_KEY}`,
          'tier=pro_cluster',
          'region=eu-central-1',
        ],
      ]);
      const auth = await udp(port, query(`_auth._tcp.${ZONE}`, 'TXT'));
      assert.deepEqual(auth.answers.map(txtStrings), [
        ['service_id=auth-cccccccccc', 'endpoint_url=https://auth.example.org/i/auth-cccccccccc', `public_key=${PUBLIC_KEY}`],
      ]);
    });

    it('answers ANY with one RRset, the SRV records (RFC 8482)', async () => {
      const result = await udp(port, query(`_cms-article._tcp.${ZONE}`, 'ANY', { edns: { payload: 1232 } }));
      assert.equal(result.rcode, RCODE.NOERROR);
      assert.deepEqual(result.answers.map((record) => record.type).sort(), ['SRV', 'SRV']);
    });

    it('enumerates each distinct service type with PTR (RFC 6763 §9)', async () => {
      const result = await udp(port, query(`_services._dns-sd._udp.${ZONE}`, 'PTR'));
      assert.equal(result.rcode, RCODE.NOERROR);
      assert.equal(result.packet.flag_aa, true);
      const ptr = result.answers as StringAnswer[];
      assert.ok(ptr.every((record) => record.type === 'PTR' && record.name === `_services._dns-sd._udp.${ZONE}`));
      assert.deepEqual(ptr.map((record) => record.data).sort(), [
        `_auth._tcp.${ZONE}`,
        `_cms-article._tcp.${ZONE}`,
        `_crm-contact._tcp.${ZONE}`,
      ]);
    });

    it('asks the source for the lowercase zone without a trailing dot', async () => {
      asked.length = 0;
      await udp(port, query(`_CMS-article._tcp.7F8A9D.Business_App.Alice.SWARM.local.`, 'SRV'));
      assert.deepEqual(asked, [ZONE]);
    });

    it('leaves out an instance it cannot publish and says so once', async () => {
      const first = await udp(port, query(`_storage-blob._tcp.${ZONE}`, 'SRV'));
      await udp(port, query(`_storage-blob._tcp.${ZONE}`, 'SRV'));
      assertNegative(first, RCODE.NXDOMAIN);
      assert.deepEqual(
        warnings.filter((warning) => warning.serviceId === 'storage-blob-unusable'),
        [{ serviceId: 'storage-blob-unusable', endpointUrl: 'ftp://files.example.org/blob' }],
      );
    });

    it('publishes an IPv6 endpoint with an AAAA record and a service type as long as a label allows', async () => {
      const v6 = await udp(port, query(`_blob-v6._tcp.${EDGE_ZONE}`, 'SRV', { edns: { payload: 1232 } }));
      const target = `blob-v6-0000000000.${EDGE_ZONE}`;
      assert.deepEqual((v6.answers[0] as SrvAnswer).data, { priority: 0, weight: 0, port: 7420, target });
      assert.deepEqual(
        v6.additionals.filter((record) => record.type === 'AAAA').map((record) => [record.name, (record as StringAnswer).data]),
        [[target, '::1']],
      );
      const aaaa = await udp(port, query(target, 'AAAA'));
      assert.deepEqual(
        aaaa.answers.map((record) => (record as StringAnswer).data),
        ['::1'],
      );
      const longest = await udp(port, query(`_${LONGEST_TYPE}._tcp.${EDGE_ZONE}`, 'SRV'));
      assert.equal(longest.answers.length, 1);
      const ptr = await udp(port, query(`_services._dns-sd._udp.${EDGE_ZONE}`, 'PTR'));
      assert.deepEqual(ptr.answers.map((record) => (record as StringAnswer).data).sort(), [
        `_blob-v6._tcp.${EDGE_ZONE}`,
        `_${LONGEST_TYPE}._tcp.${EDGE_ZONE}`,
      ]);
      const leftOut = warnings.map((warning) => warning.serviceId).filter((id) => id !== 'storage-blob-unusable');
      assert.deepEqual(leftOut.sort(), ['long-url-00000000', 'too-long-type-000']);
    });
  });

  describe('names that do not exist, have no such records, or lie outside the authority', () => {
    for (const [what, name] of [
      ['an unknown app', 'abcdef.business_app.alice.swarm.local'],
      ['a name that is no app zone', 'not-a-hash!.business_app.alice.swarm.local'],
      ['an unknown service type', `_crm-lead._tcp.${ZONE}`],
      ['an unknown label in an app zone', `www.${ZONE}`],
      ['an unknown label below a service', `x._cms-article._tcp.${ZONE}`],
      ['a UDP service name', `_cms-article._udp.${ZONE}`],
      ['service enumeration of an app without instances', `_services._dns-sd._udp.${QUIET_ZONE}`],
      ['_tcp of an app without instances', `_tcp.${QUIET_ZONE}`],
      ['a label that cannot be a namespace', 'bad!namespace.swarm.local'],
    ] as const) {
      it(`answers NXDOMAIN with AA and the SOA for ${what}`, async () => {
        assertNegative(await udp(port, query(name, 'SRV')), RCODE.NXDOMAIN);
      });
    }

    for (const [what, name, type] of [
      ['A of a service name', `_cms-article._tcp.${ZONE}`, 'A'],
      ['PTR of a service name', `_cms-article._tcp.${ZONE}`, 'PTR'],
      ['TXT of the service enumeration name', `_services._dns-sd._udp.${ZONE}`, 'TXT'],
      ['the app zone itself', ZONE, 'SOA'],
      ['an empty app zone', QUIET_ZONE, 'A'],
      ['_tcp of an app', `_tcp.${ZONE}`, 'SRV'],
      ['_dns-sd._udp of an app', `_dns-sd._udp.${ZONE}`, 'PTR'],
      ['a namespace (which may hold apps)', 'alice.swarm.local', 'A'],
      ['a project (which may hold apps)', 'business_app.alice.swarm.local', 'TXT'],
      ['the authority apex', 'swarm.local', 'A'],
    ] as const) {
      it(`answers NOERROR with no records (NODATA) for ${what}`, async () => {
        assertNegative(await udp(port, query(name, type)), RCODE.NOERROR);
      });
    }

    it('answers the SOA of the authority apex', async () => {
      const result = await udp(port, query('swarm.local', 'SOA'));
      assert.equal(result.rcode, RCODE.NOERROR);
      const soa = result.answers[0] as SoaAnswer;
      assert.equal(soa.type, 'SOA');
      assert.equal(soa.data.minimum, 30);
      assert.equal(result.authorities.length, 0);
    });

    for (const name of ['example.com', 'local', 'swarm.local.example.com', 'notswarm.local', '.', `${ZONE}.evil.org`]) {
      it(`answers REFUSED without AA for ${name}`, async () => {
        const result = await udp(port, query(name, 'SRV'));
        assert.equal(result.rcode, RCODE.REFUSED);
        assert.equal(result.packet.flag_aa, false);
        assert.equal(result.answers.length + result.authorities.length, 0);
      });
    }

    it('refuses other classes and zone transfers, and answers class ANY', async () => {
      assert.equal((await udp(port, query(`_cms-article._tcp.${ZONE}`, 'SRV', { class: 'CH' }))).rcode, RCODE.REFUSED);
      assert.equal((await tcp(port, query('swarm.local', 'AXFR'))).rcode, RCODE.REFUSED);
      assert.equal((await udp(port, query(`_cms-article._tcp.${ZONE}`, 'SRV', { class: 'ANY' }))).answers.length, 2);
    });

    it('answers SERVFAIL when the source fails, and goes on answering', async () => {
      const result = await udp(port, query(`_auth._tcp.${BROKEN_ZONE}`, 'SRV'));
      assert.equal(result.rcode, RCODE.SERVFAIL);
      assert.equal((await udp(port, query(`_auth._tcp.${ZONE}`, 'SRV'))).rcode, RCODE.NOERROR);
    });
  });

  describe('names in any case (0x20)', () => {
    it('matches names case-insensitively and echoes the question byte for byte', async () => {
      const name = '_CmS-ArTiClE._TcP.7F8a9D.BuSiNeSs_ApP.aLiCe.SwArM.LoCaL';
      const message = query(name, 'SRV', { id: 4242 });
      const result = await udp(port, message);
      assert.equal(result.rcode, RCODE.NOERROR);
      assert.equal(result.packet.id, 4242);
      assert.equal(result.answers.length, 2);
      const questionBytes = message.subarray(12, 12 + name.length + 2 + 4);
      assert.deepEqual(result.raw.subarray(12, 12 + questionBytes.length), questionBytes);
      assert.equal(result.packet.questions?.[0]?.name, name);
    });

    it('refuses a name outside the authority in any case, and finds the authority in any case', async () => {
      assert.equal((await udp(port, query('EXAMPLE.COM', 'A'))).rcode, RCODE.REFUSED);
      assertNegative(await udp(port, query(`NOPE.${ZONE.toUpperCase()}`, 'A')), RCODE.NXDOMAIN);
    });
  });

  describe('truncation and TCP', () => {
    it('sets TC with no partial answer when 40 instances do not fit UDP, and serves them whole over TCP', async () => {
      const name = `_storage-blob._tcp.${BIG_ZONE}`;
      for (const edns of [undefined, { payload: 1232 }, { payload: 4096 }, { payload: 65535 }]) {
        const truncated = await udp(port, query(name, 'SRV', { edns }));
        assert.equal(truncated.packet.flag_tc, true, `TC with EDNS ${edns?.payload}`);
        assert.equal(truncated.rcode, RCODE.NOERROR);
        assert.equal(truncated.answers.length + truncated.authorities.length + truncated.additionals.length, 0);
        assert.ok(truncated.raw.length <= (edns ? 1232 : 512));
      }
      const whole = await tcp(port, query(name, 'SRV'));
      assert.equal(whole.packet.flag_tc, false);
      assert.equal(whole.answers.length, 40);
      assert.deepEqual(
        (whole.answers as SrvAnswer[]).map((record) => record.data.port),
        Array.from({ length: 40 }, (_, n) => 7500 + n),
      );
      assert.equal(whole.additionals.filter((record) => record.type === 'TXT').length, 40);
      const txt = await tcp(port, query(name, 'TXT'));
      assert.equal(txt.answers.length, 40);
    });

    it('drops additional records, TXT first, before it truncates an answer (RFC 2181 §9)', async () => {
      const result = await udp(port, query(`_cms-article._tcp.${ZONE}`, 'SRV'));
      assert.ok(result.raw.length <= 512);
      assert.equal(result.packet.flag_tc, false);
      assert.equal(result.answers.length, 2);
      assert.deepEqual(
        result.additionals.map((record) => record.type),
        ['A', 'A'],
        "the targets' addresses stay",
      );
      const big = await udp(port, query(`_storage-blob._tcp.${BIG_ZONE}`, 'SRV'));
      assert.equal(big.packet.flag_tc, true);
    });

    it('uses the EDNS0 payload size the client advertises, from 512 up to 1232', async () => {
      const name = `_crm-contact._tcp.${MID_ZONE}`;
      const classic = await udp(port, query(name, 'TXT'));
      assert.equal(classic.packet.flag_tc, true);
      const tooSmall = await udp(port, query(name, 'TXT', { edns: { payload: 100 } }));
      assert.equal(tooSmall.packet.flag_tc, true, 'below 512 counts as 512');
      const small = await udp(port, query(name, 'TXT', { edns: { payload: 600 } }));
      assert.equal(small.packet.flag_tc, true);
      const enough = await udp(port, query(name, 'TXT', { edns: { payload: 1232 } }));
      assert.equal(enough.packet.flag_tc, false);
      assert.equal(enough.answers.length, 4);
      assert.ok(enough.raw.length > 512 && enough.raw.length <= 1232);
    });

    it('answers EDNS0 with its own OPT, copies DO, and answers BADVERS to a version it does not speak', async () => {
      const plain = await udp(port, query(`_auth._tcp.${ZONE}`, 'SRV'));
      assert.equal(
        plain.packet.additionals?.some((record) => record.type === 'OPT'),
        false,
        'no OPT unless asked',
      );
      const withDo = await udp(port, query(`_auth._tcp.${ZONE}`, 'SRV', { edns: { payload: 4096, dnssecOk: true } }));
      const opt = withDo.packet.additionals?.find((record) => record.type === 'OPT') as dnsPacket.OptAnswer;
      assert.equal(opt.udpPayloadSize, 1232);
      assert.equal(opt.ednsVersion, 0);
      assert.equal(opt.flag_do, true);
      const badVersion = await udp(port, query(`_auth._tcp.${ZONE}`, 'SRV', { edns: { payload: 1232, version: 1 } }));
      const badOpt = badVersion.packet.additionals?.find((record) => record.type === 'OPT') as dnsPacket.OptAnswer;
      assert.equal(badOpt.extendedRcode, 1, 'BADVERS = 16 = extended 1, header 0');
      assert.equal(badVersion.rcode, 0);
      assert.equal(badVersion.answers.length, 0);
    });

    it('answers several queries on one connection, pipelined and split across writes', async () => {
      const session = await openTcp(port);
      const names = [`_cms-article._tcp.${ZONE}`, `_auth._tcp.${ZONE}`, 'example.com', `_storage-blob._tcp.${BIG_ZONE}`];
      const stream = Buffer.concat(names.map((name, n) => frame(query(name, 'SRV', { id: 100 + n }))));
      for (let offset = 0; offset < stream.length; offset += 7) {
        session.socket.write(stream.subarray(offset, offset + 7));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const replies = [];
      for (const _ of names) replies.push(await session.next());
      assert.deepEqual(
        replies.map((result) => [result.packet.id, result.rcode, result.answers.length]),
        [
          [100, RCODE.NOERROR, 2],
          [101, RCODE.NOERROR, 1],
          [102, RCODE.REFUSED, 0],
          [103, RCODE.NOERROR, 40],
        ],
      );
      session.close();
    });

    it('closes an idle connection', { timeout: 20_000 }, async () => {
      const session = await openTcp(port);
      session.send(query(`_auth._tcp.${ZONE}`, 'SRV'));
      await session.next();
      const started = Date.now();
      await session.closed;
      assert.ok(Date.now() - started >= 9_000, 'not before the idle timeout');
    });
  });

  describe('messages that are not one plain query', () => {
    function header(fields: { id: number; flags: number; qd: number; an?: number; ns?: number; ar?: number }): Buffer {
      const bytes = Buffer.alloc(12);
      bytes.writeUInt16BE(fields.id, 0);
      bytes.writeUInt16BE(fields.flags, 2);
      bytes.writeUInt16BE(fields.qd, 4);
      bytes.writeUInt16BE(fields.an ?? 0, 6);
      bytes.writeUInt16BE(fields.ns ?? 0, 8);
      bytes.writeUInt16BE(fields.ar ?? 0, 10);
      return bytes;
    }
    const question = query(`_auth._tcp.${ZONE}`, 'SRV').subarray(12);

    it('answers NOTIMP to other opcodes', async () => {
      for (const opcode of [1, 2, 4, 5, 15]) {
        const message = Buffer.concat([header({ id: 7, flags: opcode << 11, qd: 1 }), question]);
        const result = await udp(port, message);
        assert.equal(result.rcode, RCODE.NOTIMP, `opcode ${opcode}`);
        assert.equal((result.raw.readUInt16BE(2) >> 11) & 0xf, opcode, 'opcode echoed');
      }
    });

    it('answers FORMERR to no question, two questions, a cut question, a compressed one, bad additionals or an OPT question', async () => {
      const cases = [
        header({ id: 1, flags: 0, qd: 0 }),
        Buffer.concat([header({ id: 2, flags: 0, qd: 2 }), question, question]),
        Buffer.concat([header({ id: 3, flags: 0, qd: 1 }), question.subarray(0, question.length - 2)]),
        Buffer.concat([header({ id: 4, flags: 0, qd: 1 }), Buffer.from([0xc0, 0x0c, 0, 33, 0, 1])]),
        Buffer.concat([header({ id: 5, flags: 0, qd: 1, ar: 1 }), question, Buffer.from([0, 0, 41])]),
        Buffer.concat([header({ id: 6, flags: 0, qd: 1 }), Buffer.from([0, 0, 41, 0, 1])]),
      ];
      for (const message of cases) {
        const result = await udp(port, message);
        assert.equal(result.rcode, RCODE.FORMERR, `id ${message.readUInt16BE(0)}`);
        assert.equal(result.packet.id, message.readUInt16BE(0));
        assert.equal(result.packet.flag_qr, true);
      }
    });

    it('answers FORMERR to two OPT records', async () => {
      const opt = {
        type: 'OPT' as const,
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      };
      const message = dnsPacket.encode({
        type: 'query',
        id: 9,
        questions: [{ name: `_auth._tcp.${ZONE}`, type: 'SRV' }],
        additionals: [opt, opt],
      });
      assert.equal((await udp(port, message)).rcode, RCODE.FORMERR);
    });

    it('sends nothing back to responses or runt packets', async () => {
      const response = Buffer.concat([header({ id: 8, flags: 0x8000, qd: 1 }), question]);
      assert.equal(await udpExchange(port, response, 300), null);
      assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), 300), null);
      assert.equal(await udpExchange(port, Buffer.alloc(0), 300), null);
    });
  });

  describe('options', () => {
    it('uses the TTL it is given, for records and for negative caching', async () => {
      const server = await startDnsServer({ host: HOST, port: 0, authority: 'SWARM.local.', source, ttl: 5 });
      try {
        const srv = await udp(server.port, query(`_auth._tcp.${ZONE}`, 'SRV'));
        assert.equal(srv.answers[0]?.type === 'SRV' && srv.answers[0].ttl, 5);
        const missing = await udp(server.port, query(`nope.${ZONE}`, 'SRV'));
        assert.equal((missing.authorities[0] as SoaAnswer).data.minimum, 5);
      } finally {
        await server.close();
      }
    });

    it('refuses an authority that is not <registry>.<tld> and a port that is taken', async () => {
      await assert.rejects(startDnsServer({ host: HOST, port: 0, authority: 'a.b.c', source }));
      await assert.rejects(startDnsServer({ host: HOST, port, authority: 'swarm.local', source }), { code: 'EADDRINUSE' });
    });

    it('stops answering once closed', async () => {
      const server = await startDnsServer({ host: HOST, port: 0, authority: 'swarm.local', source });
      await server.close();
      assert.equal(await udpExchange(server.port, query(`_auth._tcp.${ZONE}`, 'SRV'), 300), null);
      await assert.rejects(tcp(server.port, query(`_auth._tcp.${ZONE}`, 'SRV')));
    });
  });
});

const run = promisify(execFile);
const digMissing = await run('dig', ['-v']).then(
  () => false,
  () => true,
);

describe('Service DNS read by a stock dig', { skip: digMissing ? 'dig is not on PATH (Debian: apt-get install dnsutils)' : false }, () => {
  const zone = '7f8a9d.business_app.alice.omiappreg.org';
  const bigZone = 'b1g2z3.many.bob.omiappreg.org';
  const digZones = new Map<string, DnsInstance[]>([
    [zone, zones.get(ZONE) ?? []],
    [bigZone, zones.get(BIG_ZONE) ?? []],
  ]);
  let port: number;
  let close: () => Promise<void>;

  before(async () => {
    const server = await startDnsServer({
      host: HOST,
      port: 0,
      authority: 'omiappreg.org',
      source: { instancesForZone: async (name) => digZones.get(name) ?? null },
      addressTargets: 'zone',
    });
    port = server.port;
    close = server.close;
  });
  after(() => close());

  async function dig(...args: string[]): Promise<string> {
    const { stdout } = await run('dig', [`@${HOST}`, '-p', String(port), '+time=2', '+tries=1', ...args]);
    return stdout;
  }

  for (const transport of ['UDP', 'TCP']) {
    const flags = transport === 'TCP' ? ['+tcp'] : [];

    it(`reads SRV, TXT and PTR over ${transport}`, async () => {
      const srv = await dig(...flags, 'SRV', `_cms-article._tcp.${zone}`);
      assert.match(srv, /status: NOERROR/);
      assert.match(srv, /flags: qr aa/);
      assert.match(srv, new RegExp(`SERVER: 127\\.0\\.0\\.1#${port}\\(127\\.0\\.0\\.1\\) \\(${transport}\\)`));
      assert.equal(
        (srv.match(new RegExp(`\\s+IN\\s+SRV\\s+0 0 7410 cms-article-[a-z]{10}\\.${zone.replaceAll('.', '\\.')}\\.$`, 'gm')) ?? []).length,
        2,
      );
      const txt = await dig(...flags, '+short', 'TXT', `_auth._tcp.${zone}`);
      assert.equal(
        txt.trim(),
        `"service_id=auth-cccccccccc" "endpoint_url=https://auth.example.org/i/auth-cccccccccc" "public_key=${PUBLIC_KEY}"`,
      );
      const ptr = await dig(...flags, '+short', 'PTR', `_services._dns-sd._udp.${zone}`);
      assert.deepEqual(ptr.trim().split('\n').sort(), [`_auth._tcp.${zone}.`, `_cms-article._tcp.${zone}.`, `_crm-contact._tcp.${zone}.`]);
    });

    it(`reads NXDOMAIN with the SOA and REFUSED over ${transport}`, async () => {
      const missing = await dig(...flags, 'SRV', `_nope._tcp.${zone}`);
      assert.match(missing, /status: NXDOMAIN/);
      assert.match(missing, /flags: qr aa/);
      assert.match(missing, /^omiappreg\.org\.\s+30\s+IN\s+SOA\s+ns1\.omiappreg\.org\. hostmaster\.omiappreg\.org\. \d+ 60 30 86400 30$/m);
      assert.match(await dig(...flags, 'A', 'example.com'), /status: REFUSED/);
    });
  }

  it('retries a truncated answer over TCP and reads all 40 records', async () => {
    const output = await dig('SRV', `_storage-blob._tcp.${bigZone}`);
    assert.match(output, /Truncated, retrying in TCP mode/);
    assert.match(output, /\(TCP\)/);
    assert.match(output, /ANSWER: 40,/);
    assert.equal((output.match(/\s+IN\s+SRV\s+0 0 75\d\d storage-blob-\d{10}\.b1g2z3\.many\.bob\.omiappreg\.org\.$/gm) ?? []).length, 40);
  });

  it('gets the same answer with 0x20-mixed case', async () => {
    const output = await dig('+short', 'SRV', '_AUTH._Tcp.7F8A9D.business_APP.Alice.OmiAppReg.ORG');
    assert.equal(output.trim(), '0 0 443 auth.example.org.');
  });
});
