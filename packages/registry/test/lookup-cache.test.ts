import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { type DnsInstance, startDnsServer } from '../src/dns/index.js';
import { LookupCache } from '../src/lookup-cache.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('LookupCache', () => {
  it('builds every time without a change stamp (PostgreSQL)', async () => {
    const cache = new LookupCache<number>(null);
    let builds = 0;
    for (let i = 0; i < 3; i++) await cache.get('a', 100, async () => ++builds);
    assert.equal(builds, 3);
  });

  it('keeps an answer within its second while nothing was committed', async () => {
    const cache = new LookupCache<number>(() => 'v1:0');
    let builds = 0;
    const build = async () => ++builds;
    assert.equal(await cache.get('a', 100, build), 1);
    await nextTurn();
    assert.equal(await cache.get('a', 100, build), 1);
    assert.equal(await cache.get('a', 101, build), 2, 'a new second builds anew');
    assert.equal(await cache.get('b', 101, build), 3, 'another key');
  });

  it('builds anew from the first turn after a commit', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<number>(() => stamp);
    let builds = 0;
    const build = async () => ++builds;
    await cache.get('a', 100, build);
    stamp = 'v1:1';
    await nextTurn();
    assert.equal(await cache.get('a', 100, build), 2);
  });

  it('sees a commit at once, also within one turn of the event loop, and nested caches agree', async () => {
    let stamp = 'v1:0';
    let data = 'old';
    const inner = new LookupCache<string>(() => stamp);
    const outer = new LookupCache<string>(() => stamp);
    const innerGet = () => inner.get('k', 100, async () => data);
    assert.equal(await innerGet(), 'old');
    // A commit in the same turn (only microtasks ran since), then an outer lookup built from the inner one.
    data = 'new';
    stamp = 'v1:1';
    assert.equal(await outer.get('k', 100, async () => `reply:${await innerGet()}`), 'reply:new');
    assert.equal(await outer.get('k', 100, async () => 'rebuilt'), 'reply:new', 'kept under the new stamp');
  });

  it('does not keep an answer built while a commit landed', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<number>(() => stamp);
    let builds = 0;
    await cache.get('a', 100, async () => {
      stamp = 'v1:1';
      return ++builds;
    });
    assert.equal(await cache.get('a', 100, async () => ++builds), 2);
  });

  it('stays within its byte limit, and keeps nothing bigger than it', async () => {
    const cache = new LookupCache<string>(() => 'v1:0', { maxBytes: 10, sizeOf: (text) => text.length });
    let builds = 0;
    const build = (text: string) => async () => {
      builds++;
      return text;
    };
    await cache.get('a', 100, build('123456'));
    await cache.get('a', 100, build('123456'));
    assert.equal(builds, 1);
    await cache.get('b', 100, build('7890ab'));
    await cache.get('a', 100, build('123456'));
    assert.equal(builds, 3, 'b did not fit beside a: the cache started over');
    await cache.get('huge', 100, build('x'.repeat(11)));
    await cache.get('huge', 100, build('x'.repeat(11)));
    assert.equal(builds, 5, 'never kept');
  });

  it('keeps nothing of a build that failed', async () => {
    const cache = new LookupCache<number>(() => 'v1:0');
    await assert.rejects(cache.get('a', 100, async () => Promise.reject(new Error('unknown app'))));
    assert.equal(await cache.get('a', 100, async () => 7), 7);
  });
});

describe('kept DNS replies', () => {
  it('never keeps a SERVFAIL: the next query asks the source again', async () => {
    const zone = '7f8a9d.business_app.alice.swarm.local';
    let failures = 1;
    const replies = new LookupCache<Buffer | null>(() => 'unchanged');
    const instances: DnsInstance[] = [
      {
        serviceType: 'cms-article',
        serviceId: 'cms-article-a',
        endpointUrl: 'http://127.0.0.1:7410/i/a/api/v1',
        publicKey: 'k',
        tier: null,
        region: null,
      },
    ];
    const dns = await startDnsServer({
      host: '127.0.0.1',
      port: 0,
      authority: 'swarm.local',
      source: {
        async instancesForZone() {
          if (failures-- > 0) throw new Error('database is down');
          return instances;
        },
        keepReplies: (key, build, keep) => replies.get(key, 100, build, keep),
      },
    });
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const ask = (id: number) =>
      new Promise<dnsPacket.DecodedPacket>((resolve) => {
        socket.once('message', (message) => resolve(dnsPacket.decode(message)));
        const query = dnsPacket.encode({ id, type: 'query', questions: [{ type: 'SRV', name: `_cms-article._tcp.${zone}` }] });
        socket.send(query, dns.port, '127.0.0.1');
      });
    try {
      assert.equal(((await ask(1)).flags ?? 0) & 0xf, 2, 'SERVFAIL');
      const answered = await ask(2);
      assert.equal((answered.flags ?? 0) & 0xf, 0, 'NOERROR');
      assert.equal(answered.answers?.length, 1);
      assert.equal((await ask(3)).id, 3);
    } finally {
      socket.close();
      await dns.close();
    }
  });
});
