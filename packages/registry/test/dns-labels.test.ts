import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyTag } from '@swarm/protocol';
import fc from 'fast-check';
import type { DnsInstance } from '../src/dns/index.js';
import { instanceRecords } from '../src/dns/instance-records.js';
import { openDnsTcp } from './dns-tcp.js';
import { signedZoneServer, transfer, transferQuery } from './dns-transfer-client.js';
import { compareNames, dnskeyPublicKey, nameOf, type RawRecord, readNsec, readRaw, TYPE, verifySection } from './dnssec-check.js';

/**
 * Questions whose labels hold any byte (`\000`, `\255`, dots, upper case, spaces) inside and around
 * app zones: every reply is well-formed, signed, and its white-lie NSECs cover the name asked and
 * never a name the zone has (read from the zone's own transfer).
 */

const HOST = '127.0.0.1';
const ZONE = '7f8a9d.business_app.alice.swarm.local';
const LONG_ID = `${'s'.repeat(62)}a`;
const NOERROR = 0;
const NXDOMAIN = 3;

function instance(serviceType: string, serviceId: string, endpointUrl: string): DnsInstance {
  return { serviceType, serviceId, endpointUrl, publicKey: 'Zm9vYmFy', tier: 'free', region: null };
}

const zones = new Map<string, DnsInstance[]>([
  [
    ZONE,
    [
      instance('cms-article', 'cms-article-aaaaaaaaaa', 'http://127.0.0.1:7410/i/a/api/v1'),
      instance('auth', 'auth-bbbbbbbbbb', 'http://[::1]:7401/i/b'),
      instance('crm-contact', 'crm-contact-cccccccccc', 'https://crm.example.org/i/c'),
      // A service_id of 63 bytes: its address name has a label as long as a label may be.
      instance('storage-blob', LONG_ID, 'http://127.0.0.2:7412/i/d'),
    ],
  ],
]);

/** A query written byte by byte (dns-packet cannot write a label holding a dot or `\000`), DO set. */
function rawQuery(labels: Buffer[], type: number): Buffer {
  const head = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
  const name = Buffer.concat([...labels.flatMap((label) => [Buffer.from([label.length]), label]), Buffer.from([0])]);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
  return Buffer.concat([head, name, question, opt]);
}

const labelsOf = (name: string) => name.split('.').map((label) => Buffer.from(label, 'latin1'));
const lowercase = (label: Buffer) => Buffer.from(label.map((byte) => (byte >= 0x41 && byte <= 0x5a ? byte + 32 : byte))).toString('latin1');

/** Every name of the zone: owners in the transfer and the empty non-terminals above them. */
function existingNames(records: RawRecord[]): string[][] {
  const all = new Map<string, string[]>();
  for (const record of records) {
    const labels = nameOf(record.owner);
    for (let cut = 0; cut <= labels.length - 2; cut++) all.set(labels.slice(cut).join('\0'), labels.slice(cut));
  }
  return [...all.values()];
}

/** The bytes of the wire name at the start of `wire`, its root label included. */
function nameLength(wire: Buffer): number {
  let offset = 0;
  while (offset < wire.length && wire[offset] !== 0) offset += 1 + (wire[offset] as number);
  return offset + 1;
}

function isWireName(wire: Buffer): boolean {
  let offset = 0;
  while (offset < wire.length && wire[offset] !== 0) {
    const length = wire[offset] as number;
    if (length > 63) return false;
    offset += 1 + length;
  }
  return offset === wire.length - 1 && wire.length <= 255;
}

describe('Service DNS: labels with any byte', () => {
  let port: number;
  let close: () => Promise<void>;
  let existing: string[][];
  /** The types each name owning records has (no RRSIG, no NSEC). */
  const typesOf = new Map<string, number[]>();
  const keys = new Map<number, ReturnType<typeof dnskeyPublicKey>>();

  before(async () => {
    const server = await signedZoneServer(zones);
    port = server.port;
    close = server.close;
    const axfr = await transfer(port, transferQuery('swarm.local', 'AXFR'));
    existing = existingNames(axfr.records);
    for (const record of axfr.records.filter((r) => r.type !== TYPE.RRSIG && r.type !== TYPE.NSEC)) {
      const name = nameOf(record.owner).join('.');
      typesOf.set(
        name,
        [...new Set([...(typesOf.get(name) ?? []), record.type])].sort((a, b) => a - b),
      );
    }
    for (const record of axfr.records.filter((r) => r.type === TYPE.DNSKEY)) keys.set(keyTag(record.rdata), dnskeyPublicKey(record.rdata));
  });
  after(() => close());

  it('answers every such question well-formed and signed; its NSECs cover the name and never a name of the zone', async () => {
    const connection = await openDnsTcp(HOST, port);
    const anyByte = fc.uint8Array({ minLength: 1, maxLength: 63 }).map((bytes) => Buffer.from(bytes));
    const edgy = fc.constantFrom(
      ...['\0', '\0\0', 'a\0', '\xff', 'z\xff', '*', '_tcp', 'A.B', 'CMS-ARTICLE-AAAAAAAAAA', ' ', `${'s'.repeat(62)}b`, LONG_ID].map(
        (text) => Buffer.from(text, 'latin1'),
      ),
    );
    const parent = fc.constantFrom(
      ZONE,
      `_tcp.${ZONE}`,
      `_cms-article._tcp.${ZONE}`,
      `cms-article-aaaaaaaaaa.${ZONE}`,
      `_udp.${ZONE}`,
      'alice.swarm.local',
      'swarm.local',
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(anyByte, edgy), { minLength: 1, maxLength: 2 }),
          parent,
          fc.constantFrom(TYPE.A, TYPE.AAAA, TYPE.SRV, TYPE.TXT, TYPE.NSEC, 255),
          async (added, under, type) => {
            const labels = [...added, ...labelsOf(under)];
            const message = rawQuery(labels, type);
            connection.send(message);
            const raw = await connection.next(5000);
            const reply = readRaw(raw);
            const questionBytes = message.subarray(12, message.length - 11);
            assert.ok(raw.subarray(12, 12 + questionBytes.length).equals(questionBytes), 'the question echoed byte for byte');
            assert.ok(reply.rcode === NOERROR || reply.rcode === NXDOMAIN, `rcode ${reply.rcode}`);
            const records = [...reply.answers, ...reply.authorities, ...reply.additionals];
            for (const record of records) {
              assert.ok(isWireName(record.owner), 'owner is a wire name');
              if (record.type === TYPE.NSEC) assert.ok(isWireName(record.rdata.subarray(0, nameLength(record.rdata))), 'next name');
            }
            verifySection(reply.answers, keys);
            verifySection(reply.authorities, keys);
            const qname = labels.map(lowercase);
            const nsecs = reply.authorities.filter((record) => record.type === TYPE.NSEC);
            const covers = (record: RawRecord, name: string[]) =>
              compareNames(nameOf(record.owner), name) < 0 && compareNames(name, readNsec(record).next) < 0;
            for (const nsec of nsecs) {
              const owned = typesOf.get(nameOf(nsec.owner).join('.')) ?? [];
              const told = readNsec(nsec).types.filter((t) => t !== TYPE.RRSIG && t !== TYPE.NSEC);
              assert.deepEqual(told, owned, `the NSEC at ${JSON.stringify(nameOf(nsec.owner).join('.'))} tells its types`);
            }
            for (const nsec of nsecs)
              for (const name of existing) assert.ok(!covers(nsec, name), `an NSEC denies ${JSON.stringify(name.join('.'))}, which exists`);
            if (reply.rcode === NXDOMAIN) {
              assert.ok(
                nsecs.some((nsec) => covers(nsec, qname)),
                'the name asked is covered',
              );
              assert.ok(!existing.some((name) => compareNames(name, qname) === 0), 'NXDOMAIN only for a name the zone does not have');
            }
            return true;
          },
        ),
        { numRuns: 400 },
      );
    } finally {
      connection.close();
    }
  });
});

describe('Service DNS: endpoint hosts with any character', () => {
  it('publishes a target only when every label of the host is letters, digits, - or _ (property)', () => {
    const hostChar = fc.constantFrom(...'abcXYZ019-_.*;"$()!~\'+,=&{}`%\u00fc'.split(''));
    fc.assert(
      fc.property(
        fc.string({ unit: hostChar, minLength: 1, maxLength: 40 }),
        fc.constantFrom('host', 'zone') as fc.Arbitrary<'host' | 'zone'>,
        (host, targets) => {
          let url: string;
          try {
            url = new URL(`http://${host}:7410/i/x`).href;
          } catch {
            return true;
          }
          const records = instanceRecords(instance('cms-article', 'cms-article-x', url), targets);
          if ('problem' in records) return true;
          if (records.address) return true;
          return records.target.split('.').every((label) => /^[a-z0-9_-]{1,63}$/.test(label));
        },
      ),
      { numRuns: 2000 },
    );
    assert.ok('problem' in instanceRecords(instance('cms-article', 'x', 'http://a*b.example/i/x')));
    assert.ok('problem' in instanceRecords(instance('cms-article', 'x', 'http://a;b.example/i/x')));
    assert.equal(
      (instanceRecords(instance('cms-article', 'x', 'http://B\u00fccher.example/i')) as { target: string }).target,
      'xn--bcher-kva.example',
    );
  });
});
