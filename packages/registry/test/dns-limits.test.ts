import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { appDnsZone } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import { DEFAULT_DNS_LIMITS, type DnsInstance, startDnsServer } from '../src/dns/index.js';
import { clientPrefix, ResponseRateLimiter } from '../src/dns/limits.js';
import { type RegistryHandle, registryOptionsFromEnv, startRegistry } from '../src/index.js';
import { openDnsTcp } from './dns-tcp.js';
import { boundInstance, developerWithApp, listedProvider } from './helpers.js';

const HOST = '127.0.0.1';
/** Another /24 than 127.0.0.1: Linux answers for all of 127/8 on loopback. */
const NEIGHBOUR = '127.0.1.1';
const ZONE = '7f8a9d.business_app.alice.swarm.local';
const PUBLIC_KEY = 'Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg';

const instances: DnsInstance[] = ['aaaaaaaaaa', 'bbbbbbbbbb'].map((id, n) => ({
  serviceType: 'cms-article',
  serviceId: `cms-article-${id}`,
  endpointUrl: `http://127.0.0.${n + 1}:7410/i/cms-article-${id}/api/v1`,
  publicKey: PUBLIC_KEY,
  tier: 'free',
  region: 'local',
}));
const source = { instancesForZone: async (zone: string) => (zone === ZONE ? instances : null) };

function query(name: string, type: dnsPacket.RecordType | 'ANY', id = 1): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as dnsPacket.RecordType }],
  });
}

async function udpSocket(address: string): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return socket;
}

async function ask(port: number, message: Buffer, from = HOST): Promise<dnsPacket.DecodedPacket | null> {
  const socket = await udpSocket(from);
  try {
    const received = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(message, port, HOST);
    const timeout = new Promise<null>((resolve) => setTimeout(resolve, 2000, null).unref());
    const result = await Promise.race([received, timeout]);
    return result ? dnsPacket.decode(result[0]) : null;
  } finally {
    socket.close();
  }
}

describe('Service DNS rate limiting (RRL)', () => {
  let registry: RegistryHandle;
  before(async () => {
    registry = await startRegistry({ logLevel: false, dnsPort: 0 });
  });
  after(() => registry.close());

  it('limits a flood from one address, slipping some answers as TC, while another address is answered', async () => {
    const { dev, appId } = await developerWithApp(registry);
    await boundInstance(registry, dev, appId, await listedProvider(registry));
    const name = `_cms-article._tcp.${appDnsZone(appId).slice(0, -1)}`;
    const port = registry.dnsPort as number;
    const flooder = await udpSocket(HOST);
    const replies: dnsPacket.DecodedPacket[] = [];
    flooder.on('message', (message) => replies.push(dnsPacket.decode(message)));
    try {
      // Twice the per-second budget, in bursts small enough for the socket buffers.
      const sent = 2 * DEFAULT_DNS_LIMITS.responsesPerSecond + 200;
      const started = Date.now();
      for (let n = 0; n < sent; n++) {
        flooder.send(query(name, 'SRV', n), port, HOST);
        if (n % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // The neighbour, asking in the middle of the flood, is answered in full.
      const neighbour = await ask(port, query(name, 'SRV', 4242), NEIGHBOUR);
      assert.equal(neighbour?.flag_tc, false);
      assert.equal(neighbour?.answers?.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const elapsedSeconds = (Date.now() - started) / 1000;
      const full = replies.filter((reply) => !reply.flag_tc);
      const slipped = replies.filter((reply) => reply.flag_tc);
      const budget = DEFAULT_DNS_LIMITS.responsesPerSecond * (1 + elapsedSeconds);
      assert.ok(full.length <= budget, `${full.length} full answers, at most ${budget} allowed`);
      assert.ok(full.length < sent, 'some were limited');
      assert.ok(slipped.length > 0, 'some limited answers slip as TC');
      for (const reply of slipped) {
        assert.equal(reply.answers?.length ?? 0, 0);
        assert.equal(reply.questions?.[0]?.name, name, 'the question is echoed');
      }
      // Slip 2: about every second limited answer goes out, the rest are dropped.
      assert.ok(full.length + slipped.length < sent, 'the rest are dropped');
    } finally {
      flooder.close();
    }
  });

  it('keys clients on /24 and /56, and refills with time', () => {
    assert.equal(clientPrefix('192.0.2.77'), '192.0.2.0/24');
    assert.equal(clientPrefix('::ffff:192.0.2.77'), '192.0.2.0/24');
    assert.equal(clientPrefix('2001:db8:1:23ff::1'), '2001:0db8:0001:2300::/56');
    assert.equal(clientPrefix('2001:db8:1:2300:aaaa::9%eth0'), '2001:0db8:0001:2300::/56');
    assert.equal(clientPrefix('::1'), '0000:0000:0000:0000::/56');
    const limiter = new ResponseRateLimiter({ responsesPerSecond: 2, slip: 2 });
    const at = 1_000_000;
    assert.deepEqual(
      ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '198.51.100.1'].map((address) => limiter.decide(address, at)),
      ['answer', 'answer', 'drop', 'slip', 'drop', 'answer'],
    );
    assert.equal(limiter.decide('192.0.2.9', at + 500), 'answer', 'half a second refills one');
    assert.equal(new ResponseRateLimiter({ responsesPerSecond: 0, slip: 2 }).decide('192.0.2.1'), 'answer', '0 is off');
  });

  it('still limits a client prefix after a flood of forged sources filled its memo of prefixes', () => {
    const limiter = new ResponseRateLimiter({ responsesPerSecond: 2, slip: 0 });
    const at = 1_000_000;
    assert.deepEqual(
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'].map((address) => limiter.decide(address, at)),
      ['answer', 'answer', 'drop'],
    );
    // More distinct sources than the limiter tracks: the memo starts over, the /24 stays one client.
    for (let n = 0; n < 70_000; n++) limiter.decide(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, at);
    assert.deepEqual(
      ['192.0.2.1', '192.0.2.77'].map((address) => limiter.decide(address, at)),
      ['drop', 'drop'],
      'an address seen before and a new one of the same /24 are still the same client, with no tokens left',
    );
  });

  it('takes its limits from SWARM_DNS_* variables', () => {
    assert.deepEqual(
      registryOptionsFromEnv({ SWARM_DNS_RATE_LIMIT: '50', SWARM_DNS_SLIP: '0', SWARM_DNS_TCP_PER_ADDRESS: '4' }).dnsLimits,
      {
        responsesPerSecond: 50,
        slip: 0,
        tcpPerAddress: 4,
      },
    );
    assert.throws(() => registryOptionsFromEnv({ SWARM_DNS_RATE_LIMIT: '-1' }));
  });
});

describe('Service DNS minimal ANY (RFC 8482)', () => {
  let port: number;
  let close: () => Promise<void>;
  before(async () => {
    ({ port, close } = await startDnsServer({ host: HOST, port: 0, authority: 'swarm.local', source }));
  });
  after(() => close());

  it('answers ANY with one RRset and nothing additional', async () => {
    const service = await ask(port, query(`_cms-article._tcp.${ZONE}`, 'ANY'));
    assert.deepEqual(
      service?.answers?.map((record) => record.type),
      ['SRV', 'SRV'],
    );
    assert.equal(service?.additionals?.length ?? 0, 0);
    const apex = await ask(port, query('swarm.local', 'ANY'));
    assert.deepEqual(
      apex?.answers?.map((record) => record.type),
      ['SOA'],
    );
  });
});

describe('Service DNS TCP connection bounds', () => {
  async function server(limits: Parameters<typeof startDnsServer>[0]['limits']) {
    return startDnsServer({ host: HOST, port: 0, authority: 'swarm.local', source, limits });
  }

  /** Sends the first bytes of a message that never ends, one byte every `everyMs`, until closed. */
  async function trickle(port: number, everyMs: number): Promise<number> {
    const socket = connect({ host: HOST, port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    const started = Date.now();
    const timer = setInterval(() => socket.write(Buffer.from([0xff])), everyMs);
    try {
      await once(socket, 'close');
      return Date.now() - started;
    } finally {
      clearInterval(timer);
    }
  }

  it('closes a trickling client at the absolute lifetime', { timeout: 20_000 }, async () => {
    const dns = await server({ tcpLifetimeMs: 1500, tcpIdleMs: 60_000 });
    try {
      const held = await Promise.race([trickle(dns.port, 100), new Promise<number>((resolve) => setTimeout(resolve, 8000, -1))]);
      assert.notEqual(held, -1, 'still open after 8 s of trickling');
      assert.ok(held >= 1300, `closed after ${held} ms, not before the lifetime`);
    } finally {
      await dns.close();
    }
  });

  it('counts idleness from the last whole query: bytes alone do not keep a connection', { timeout: 20_000 }, async () => {
    const dns = await server({ tcpLifetimeMs: 60_000, tcpIdleMs: 1000 });
    try {
      const held = await Promise.race([trickle(dns.port, 100), new Promise<number>((resolve) => setTimeout(resolve, 8000, -1))]);
      assert.notEqual(held, -1, 'still open after 8 s of trickling');
      // A connection that does ask keeps going past the idle time.
      const busy = await openDnsTcp(HOST, dns.port);
      for (let n = 0; n < 4; n++) {
        busy.send(query(`_cms-article._tcp.${ZONE}`, 'SRV', n));
        await busy.next();
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
      assert.equal(busy.socket.destroyed, false);
      busy.close();
    } finally {
      await dns.close();
    }
  });

  it('caps connections per address, and another address still gets in', async () => {
    const dns = await server({ tcpPerAddress: 3 });
    const held = await Promise.all([0, 1, 2].map(() => openDnsTcp(HOST, dns.port)));
    try {
      for (const session of held) {
        session.send(query(`_cms-article._tcp.${ZONE}`, 'SRV'));
        await session.next();
      }
      const extra = await openDnsTcp(HOST, dns.port);
      const shut = await Promise.race([extra.closed.then(() => true), new Promise((resolve) => setTimeout(resolve, 2000, false))]);
      assert.equal(shut, true, 'a fourth connection from the same address is closed at once');
      const socket = connect({ host: HOST, port: dns.port, localAddress: NEIGHBOUR });
      await once(socket, 'connect');
      const length = Buffer.alloc(2);
      const message = query(`_cms-article._tcp.${ZONE}`, 'SRV', 7);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      assert.equal(dnsPacket.decode(chunk.subarray(2)).id, 7);
      socket.destroy();
      // A slot freed is a slot again.
      held.pop()?.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = await openDnsTcp(HOST, dns.port);
      again.send(query(`_cms-article._tcp.${ZONE}`, 'SRV', 8));
      assert.equal(dnsPacket.decode(await again.next()).id, 8);
      again.close();
    } finally {
      for (const session of held) session.close();
      await dns.close();
    }
  });
});
