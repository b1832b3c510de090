import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey } from '@swarm/protocol';
import type { Packet, RecordType } from 'dns-packet';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { type DnsInstance, startDnsServer } from '../src/dns/index.js';
import { FrameReader } from '../src/dns/tcp-frames.js';
import { frame, openDnsTcp } from './dns-tcp.js';

const HOST = '127.0.0.1';
const ZONE = '7f8a9d.business_app.alice.swarm.local';
const BIG_ZONE = 'b1g2z3.many.bob.swarm.local';
const KNOWN_NAMES = [
  `_cms-article._tcp.${ZONE}`,
  `_auth._tcp.${ZONE}`,
  `_services._dns-sd._udp.${ZONE}`,
  `_storage-blob._tcp.${BIG_ZONE}`,
  `_services._dns-sd._udp.${BIG_ZONE}`,
  ZONE,
  'swarm.local',
  'alice.swarm.local',
  'example.com',
];

function instance(serviceType: string, n: number): DnsInstance {
  const serviceId = `${serviceType}-${String(n).padStart(10, '0')}`;
  return {
    serviceType,
    serviceId,
    endpointUrl: `http://127.0.0.1:${7400 + n}/i/${serviceId}/api/v1`,
    publicKey: 'Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg',
    tier: n % 2 ? 'free' : null,
    region: n % 3 ? 'local' : null,
  };
}

const zones = new Map<string, DnsInstance[]>([
  [ZONE, [instance('cms-article', 1), instance('cms-article', 2), instance('auth', 3)]],
  [BIG_ZONE, Array.from({ length: 40 }, (_, n) => instance('storage-blob', n))],
]);

/** Only runts and responses go unanswered; every other message gets a reply. */
function expectsReply(message: Uint8Array): boolean {
  return message.length >= 12 && ((message[2] as number) & 0x80) === 0;
}

/** What any reply must be, whatever was sent. */
function assertSaneReply(sent: Uint8Array, received: Buffer, transport: 'udp' | 'tcp'): void {
  const sentBytes = Buffer.from(sent);
  assert.equal(received.readUInt16BE(0), sentBytes.readUInt16BE(0), 'id echoed');
  const flags = received.readUInt16BE(2);
  assert.equal(flags & 0x8000, 0x8000, 'QR set');
  assert.equal((flags >> 11) & 0xf, (sentBytes.readUInt16BE(2) >> 11) & 0xf, 'opcode echoed');
  assert.ok((flags & 0xf) <= 5, `rcode ${flags & 0xf}`);
  if (transport === 'udp')
    assert.ok(received.length <= (sentBytes.readUInt16BE(10) === 0 ? 512 : 1232), `UDP reply of ${received.length} bytes`);
  const decoded = dnsPacket.decode(received);
  if ((flags & 0x0200) !== 0) assert.equal((decoded.answers ?? []).length + (decoded.authorities ?? []).length, 0, 'TC carries no records');
}

const label = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
  fc.constantFrom('_tcp', '_udp', '_services', '_dns-sd', '_cms-article', '_AUTH', '_storage-blob', 'SWARM', 'local', '7f8a9d'),
);
const name = fc.oneof(
  fc.constantFrom(...KNOWN_NAMES),
  fc.array(label, { maxLength: 6 }).map((labels) => [...labels, 'swarm', 'local'].join('.')),
  fc.array(label, { minLength: 1, maxLength: 6 }).map((labels) => labels.join('.')),
);
const recordType = fc.constantFrom<RecordType | 'ANY'>('A', 'AAAA', 'SRV', 'TXT', 'PTR', 'SOA', 'NS', 'ANY', 'AXFR', 'OPT', 'CNAME');
const query = fc
  .record({
    id: fc.integer({ min: 0, max: 0xffff }),
    name,
    type: recordType,
    edns: fc.option(
      fc.record({ payload: fc.integer({ min: 0, max: 0xffff }), version: fc.integer({ min: 0, max: 2 }), dnssecOk: fc.boolean() }),
    ),
  })
  .map(({ id, name, type, edns }) => {
    const packet: Packet = { type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as RecordType }] };
    if (edns) {
      packet.additionals = [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: edns.payload,
          extendedRcode: 0,
          ednsVersion: edns.version,
          flags: edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
          flag_do: edns.dnssecOk,
          options: [],
        },
      ];
    }
    return new Uint8Array(dnsPacket.encode(packet));
  });

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'count'; section: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('count' as const), section: fc.integer({ min: 0, max: 3 }), value: fc.integer({ min: 0, max: 0xffff }) }),
);

function mutate(message: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = Buffer.from(message);
  for (const change of mutations) {
    if (change.kind === 'count') {
      if (bytes.length >= 12) bytes.writeUInt16BE(change.value, 4 + 2 * change.section);
      continue;
    }
    const at = bytes.length === 0 ? 0 : change.at % bytes.length;
    if (change.kind === 'flip' && bytes.length > 0) bytes[at] = (bytes[at] as number) ^ (1 << change.bit);
    if (change.kind === 'set' && bytes.length > 0) bytes[at] = change.value;
    if (change.kind === 'truncate') bytes = bytes.subarray(0, at);
    if (change.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), change.bytes, bytes.subarray(at)]);
  }
  return new Uint8Array(bytes);
}

const mutatedQuery = fc.tuple(query, fc.array(mutation, { maxLength: 4 })).map(([message, mutations]) => mutate(message, mutations));
/** Random bytes shaped enough (QR clear, QUERY, one question) to reach the name parser. */
const shapedNoise = fc.uint8Array({ minLength: 12, maxLength: 300, size: 'max' }).map((bytes) => {
  const shaped = Buffer.from(bytes);
  shaped[2] = (shaped[2] as number) & 0x07;
  shaped.writeUInt16BE(1, 4);
  return new Uint8Array(shaped);
});

function udpClient(port: number) {
  const socket = createSocket('udp4');
  const inbox: Buffer[] = [];
  let waiter: ((message: Buffer) => void) | null = null;
  socket.on('message', (message) => {
    if (waiter) {
      const deliver = waiter;
      waiter = null;
      deliver(message);
    } else inbox.push(message);
  });
  return {
    send(message: Uint8Array) {
      socket.send(message, port, HOST);
    },
    receive(timeoutMs = 2000): Promise<Buffer> {
      const ready = inbox.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(new Error('no UDP reply'));
        }, timeoutMs);
        waiter = (message) => {
          clearTimeout(timer);
          resolve(message);
        };
      });
    },
    pendingCount: () => inbox.length,
    close: () => socket.close(),
  };
}

const tcpConnection = (port: number) => openDnsTcp(HOST, port);

const GOOD_QUERY = dnsPacket.encode({ type: 'query', id: 4711, questions: [{ name: `_cms-article._tcp.${ZONE}`, type: 'SRV' }] });

function assertGoodAnswer(received: Buffer): void {
  const decoded = dnsPacket.decode(received);
  assert.equal(decoded.id, 4711);
  assert.equal(received.readUInt16BE(2) & 0xf, 0);
  assert.equal(decoded.answers?.length, 2);
}

describe('TCP message framing', () => {
  it('gives back exactly the framed messages, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map(frame));
          const reader = new FrameReader();
          const read: Buffer[] = [];
          for (let offset = 0, n = 0; offset < stream.length; n++) {
            const size = cuts[n % cuts.length] as number;
            read.push(...reader.push(stream.subarray(offset, offset + size)));
            offset += size;
          }
          assert.deepEqual(
            read.map((message) => [...message]),
            messages.map((message) => [...message]),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads a 64 KiB message sent one byte at a time in linear time', () => {
    const message = Buffer.alloc(0xffff, 7);
    const stream = frame(message);
    const reader = new FrameReader();
    const started = process.hrtime.bigint();
    const read: Buffer[] = [];
    for (let offset = 0; offset < stream.length; offset++) read.push(...reader.push(stream.subarray(offset, offset + 1)));
    assert.equal(read.length, 1);
    assert.ok(read[0]?.equals(message));
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n, 'well under two seconds');
  });
});

describe('Service DNS under malformed and random messages', () => {
  let port: number;
  let close: () => Promise<void>;
  const warnings: unknown[] = [];

  before(async () => {
    const server = await startDnsServer({
      host: HOST,
      port: 0,
      authority: 'swarm.local',
      source: { instancesForZone: async (zone) => zones.get(zone) ?? null },
      logger: { warn: (obj) => warnings.push(obj) },
      // Thousands of queries from one address in a few seconds: rate limiting would drop some.
      limits: { responsesPerSecond: 0 },
      // Signed: a query with DO set makes up NSEC names from whatever bytes the question holds.
      dnssecKeys: [generateSigningKey().privateKey],
    });
    port = server.port;
    close = server.close;
  });
  after(() => close());

  async function assertStillServes(): Promise<void> {
    const client = udpClient(port);
    try {
      client.send(GOOD_QUERY);
      assertGoodAnswer(await client.receive());
    } finally {
      client.close();
    }
    const connection = await tcpConnection(port);
    try {
      connection.socket.write(frame(GOOD_QUERY));
      assertGoodAnswer(await connection.next());
    } finally {
      connection.close();
    }
  }

  for (const [what, messages, numRuns] of [
    ['random bytes', fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 700, size: 'max' })), 1500],
    ['random bytes shaped like one question', shapedNoise, 1500],
    ['mutated queries', mutatedQuery, 3000],
    ['well-formed queries for any name and type', query, 1000],
  ] as const) {
    it(`answers ${what} over UDP sanely or not at all, then still serves`, async () => {
      const client = udpClient(port);
      try {
        await fc.assert(
          fc.asyncProperty(messages, async (message) => {
            client.send(message);
            if (expectsReply(message)) {
              assertSaneReply(message, await client.receive(), 'udp');
            } else {
              // Nothing comes back, so a probe paces the sender (a flood would only fill the socket buffer)
              // and shows that the server is still there and said nothing to the message.
              client.send(GOOD_QUERY);
              assertGoodAnswer(await client.receive());
            }
          }),
          { numRuns },
        );
        // Anything answered that should have been dropped would be waiting here.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(client.pendingCount(), 0, 'no reply to a runt or a response');
      } finally {
        client.close();
      }
      await assertStillServes();
      assert.deepEqual(warnings, []);
    });
  }

  it('answers pipelined mutated queries over TCP in order, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutatedQuery, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        async (messages, cuts) => {
          const connection = await tcpConnection(port);
          try {
            const stream = Buffer.concat([...messages.map(frame), frame(GOOD_QUERY)]);
            for (let offset = 0, n = 0; offset < stream.length; n++) {
              const size = cuts[n % cuts.length] as number;
              connection.socket.write(stream.subarray(offset, offset + size));
              offset += size;
            }
            for (const message of messages.filter(expectsReply)) assertSaneReply(message, await connection.next(), 'tcp');
            assertGoodAnswer(await connection.next());
          } finally {
            connection.close();
          }
        },
      ),
      { numRuns: 300 },
    );
    await assertStillServes();
  });

  it('survives unframed garbage and half-sent frames over TCP', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000, size: 'max' }), fc.boolean(), async (garbage, endGracefully) => {
        const connection = await tcpConnection(port);
        connection.socket.write(garbage);
        if (endGracefully) connection.socket.end();
        await new Promise((resolve) => setImmediate(resolve));
        connection.close();
      }),
      { numRuns: 300 },
    );
    await assertStillServes();
  });

  it('reads a 64 KiB query full of chained compression pointers in linear time', async () => {
    const head = Buffer.from(GOOD_QUERY);
    const chainLength = 16_000;
    const chain = Buffer.alloc(2 * chainLength);
    const chainStart = head.length + 11;
    chain.writeUInt16BE(0xc000 | 12, 0);
    for (let n = 1; n < chainLength; n++) chain.writeUInt16BE(0xc000 | (chainStart + 2 * (n - 1)), 2 * n);
    const holder = Buffer.alloc(11);
    holder.writeUInt16BE(10, 1); // NULL record at the root, its data the pointer chain
    holder.writeUInt16BE(1, 3);
    holder.writeUInt16BE(chain.length, 9);
    const pointingRecords = Math.floor((0xffff - head.length - holder.length - chain.length) / 12);
    const pointing = Buffer.alloc(12 * pointingRecords);
    for (let n = 0; n < pointingRecords; n++) {
      pointing.writeUInt16BE(0xc000 | (chainStart + 2 * (chainLength - 1)), 12 * n);
      pointing.writeUInt16BE(1, 12 * n + 2);
      pointing.writeUInt16BE(1, 12 * n + 4);
    }
    const message = Buffer.concat([head, holder, chain, pointing]);
    message.writeUInt16BE(1 + pointingRecords, 10);
    assert.ok(message.length <= 0xffff);
    const connection = await tcpConnection(port);
    try {
      const started = Date.now();
      for (let n = 0; n < 5; n++) connection.socket.write(frame(message));
      for (let n = 0; n < 5; n++) assertGoodAnswer(await connection.next(5000));
      assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
    } finally {
      connection.close();
    }
  });

  it('answers a burst of concurrent UDP and TCP queries from many clients', async () => {
    const clients = Array.from({ length: 20 }, () => udpClient(port));
    try {
      const replies = await Promise.all(
        clients.map(async (client) => {
          client.send(GOOD_QUERY);
          return client.receive();
        }),
      );
      for (const received of replies) assertGoodAnswer(received);
      const connections = await Promise.all(Array.from({ length: 20 }, () => tcpConnection(port)));
      for (const connection of connections) for (let n = 0; n < 5; n++) connection.socket.write(frame(GOOD_QUERY));
      for (const connection of connections) {
        for (let n = 0; n < 5; n++) assertGoodAnswer(await connection.next());
        connection.close();
      }
    } finally {
      for (const client of clients) client.close();
    }
  });
});
