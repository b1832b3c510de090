import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { AppLookups, zoneOf } from '../src/app-lookups.js';
import { type DnsInstance, startDnsServer } from '../src/dns/index.js';
import { LookupCache, SHARED_GROUP } from '../src/lookup-cache.js';

const stampSource = (stamp: () => string) => ({ stamp, enabled: () => true });
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('LookupCache', () => {
  it('builds every time when not enabled (PostgreSQL without its change channel)', async () => {
    const cache = new LookupCache<number>(null);
    let builds = 0;
    for (let i = 0; i < 3; i++) await cache.get('g', 'a', 100, async () => ++builds);
    assert.equal(builds, 3);
  });

  it('keeps an answer within its second while nothing was committed', async () => {
    const cache = new LookupCache<number>(stampSource(() => 'v1:0'));
    let builds = 0;
    const build = async () => ++builds;
    assert.equal(await cache.get('g', 'a', 100, build), 1);
    await nextTurn();
    assert.equal(await cache.get('g', 'a', 100, build), 1);
    assert.equal(await cache.get('g', 'a', 101, build), 2, 'a new second builds anew');
    assert.equal(await cache.get('g', 'b', 101, build), 3, 'another key');
  });

  it('builds anew from the first turn after a commit', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<number>(stampSource(() => stamp));
    let builds = 0;
    const build = async () => ++builds;
    await cache.get('g', 'a', 100, build);
    stamp = 'v1:1';
    await nextTurn();
    assert.equal(await cache.get('g', 'a', 100, build), 2);
  });

  it('sees a commit at once, also within one turn of the event loop, and nested caches agree', async () => {
    let stamp = 'v1:0';
    let data = 'old';
    const inner = new LookupCache<string>(stampSource(() => stamp));
    const outer = new LookupCache<string>(stampSource(() => stamp));
    const innerGet = () => inner.get('g', 'k', 100, async () => data);
    assert.equal(await innerGet(), 'old');
    // A commit in the same turn (only microtasks ran since), then an outer lookup built from the inner one.
    data = 'new';
    stamp = 'v1:1';
    assert.equal(await outer.get('g', 'k', 100, async () => `reply:${await innerGet()}`), 'reply:new');
    assert.equal(await outer.get('g', 'k', 100, async () => 'rebuilt'), 'reply:new', 'kept under the new stamp');
  });

  it('does not keep an answer built while a commit landed', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<number>(stampSource(() => stamp));
    let builds = 0;
    await cache.get('g', 'a', 100, async () => {
      stamp = 'v1:1';
      return ++builds;
    });
    assert.equal(await cache.get('g', 'a', 100, async () => ++builds), 2);
  });

  it('stays within its byte limit, and keeps nothing bigger than it', async () => {
    const cache = new LookupCache<string>(
      stampSource(() => 'v1:0'),
      { maxBytes: 10, sizeOf: (text) => text.length },
    );
    let builds = 0;
    const build = (text: string) => async () => {
      builds++;
      return text;
    };
    await cache.get('g', 'a', 100, build('123456'));
    await cache.get('g', 'a', 100, build('123456'));
    assert.equal(builds, 1);
    await cache.get('g', 'b', 100, build('7890ab'));
    await cache.get('g', 'a', 100, build('123456'));
    assert.equal(builds, 3, 'b did not fit beside a: the cache started over');
    await cache.get('g', 'huge', 100, build('x'.repeat(11)));
    await cache.get('g', 'huge', 100, build('x'.repeat(11)));
    assert.equal(builds, 5, 'never kept');
  });

  it('keeps nothing of a build that failed', async () => {
    const cache = new LookupCache<number>(stampSource(() => 'v1:0'));
    await assert.rejects(cache.get('g', 'a', 100, async () => Promise.reject(new Error('unknown app'))));
    assert.equal(await cache.get('g', 'a', 100, async () => 7), 7);
  });
});

describe('LookupCache groups', () => {
  it("a change of one group keeps the other groups' answers", async () => {
    const cache = new LookupCache<string>(stampSource(() => 'v1:0'));
    let builds = 0;
    const build = (text: string) => async () => {
      builds++;
      return text;
    };
    await cache.get('app-a', 'a', 100, build('a1'));
    await cache.get('app-b', 'b', 100, build('b1'));
    cache.invalidate('app-a');
    assert.equal(await cache.get('app-b', 'b', 100, build('b2')), 'b1', 'b kept');
    assert.equal(await cache.get('app-a', 'a', 100, build('a2')), 'a2', 'a built anew');
    assert.equal(builds, 3);
    assert.equal(cache.hits, 1);
  });

  it('does not keep a build under way while its group changed, and keeps one of another group', async () => {
    const cache = new LookupCache<number>(stampSource(() => 'v1:0'));
    let builds = 0;
    await cache.get('app-a', 'a', 100, async () => {
      cache.invalidate('app-a');
      return ++builds;
    });
    await cache.get('app-b', 'b', 100, async () => {
      cache.invalidate('app-a');
      return ++builds;
    });
    assert.equal(await cache.get('app-a', 'a', 100, async () => ++builds), 3, 'a was not kept');
    assert.equal(await cache.get('app-b', 'b', 100, async () => ++builds), 2, 'b was kept');
  });

  it('drops the shared group with any change, and everything when the stamp moves', async () => {
    let stamp = 'v1:0';
    const cache = new LookupCache<string>(stampSource(() => stamp));
    await cache.get(SHARED_GROUP, 'apex', 100, async () => 'soa1');
    await cache.get('app-b', 'b', 100, async () => 'b1');
    cache.invalidate('app-a');
    assert.equal(await cache.get(SHARED_GROUP, 'apex', 100, async () => 'soa2'), 'soa2');
    assert.equal(await cache.get('app-b', 'b', 100, async () => 'b2'), 'b1');
    stamp = 'v2:0';
    assert.equal(await cache.get('app-b', 'b', 100, async () => 'b3'), 'b3', 'another process committed');
  });

  it('stays within its entry limit however many groups change', async () => {
    const cache = new LookupCache<number>(
      stampSource(() => 'v1:0'),
      { maxEntries: 4 },
    );
    for (let i = 0; i < 50; i++) {
      await cache.get(`app-${i}`, `k${i}`, 100, async () => i);
      cache.invalidate(`other-${i}`);
      assert.ok(cache.size <= 4);
    }
  });
});

describe('AppLookups', () => {
  const query = (name: string) => dnsPacket.encode({ id: 7, type: 'query', questions: [{ type: 'SRV', name }] }).toString('latin1', 2);

  it('groups a reply under the app zone its question names, whatever its case', () => {
    const lookups = new AppLookups(
      stampSource(() => 'v'),
      100,
      'swarm.local',
    );
    const zone = zoneOf('local.swarm.alice.blog.7f8a9d');
    assert.equal(zone, '7f8a9d.blog.alice.swarm.local');
    assert.equal(lookups.replyGroup(query(`_cms-article._tcp.${zone}`)), zone);
    assert.equal(lookups.replyGroup(query('_CMS-article._tcp.7F8A9D.Blog.alice.SWARM.local')), zone);
    assert.equal(lookups.replyGroup(query(zone)), zone);
    assert.equal(lookups.replyGroup(query('swarm.local')), SHARED_GROUP);
    assert.equal(lookups.replyGroup(query('blog.alice.swarm.local')), SHARED_GROUP);
    assert.equal(lookups.replyGroup(query('7f8a9d.blog.alice.example.org')), SHARED_GROUP);
  });

  it('never throws on any key, and a group is the shared one or ends in the authority (property)', () => {
    const lookups = new AppLookups(
      stampSource(() => 'v'),
      100,
      'swarm.local',
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (key) => {
        const group = lookups.replyGroup(key);
        assert.ok(group === SHARED_GROUP || group.endsWith('.swarm.local'));
      }),
      { numRuns: 500 },
    );
  });
});

describe('kept DNS replies', () => {
  it('never keeps a SERVFAIL: the next query asks the source again', async () => {
    const zone = '7f8a9d.business_app.alice.swarm.local';
    let failures = 1;
    const replies = new LookupCache<Buffer | null>(stampSource(() => 'unchanged'));
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
        keepReplies: (key, build, keep) => replies.get('g', key, 100, build, { keep }),
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

describe('LookupCache deadlines', () => {
  it('keeps an answer from the second it was built up to the deadline its build named', async () => {
    const cache = new LookupCache<number>(stampSource(() => 'v1:0'));
    let builds = 0;
    const build = async () => ++builds;
    const until = () => 105;
    assert.equal(await cache.get('g', 'a', 100, build, { until }), 1);
    assert.equal(cache.keptUntil('a', 100), 105);
    for (const second of [100, 101, 104]) assert.equal(await cache.get('g', 'a', second, build, { until }), 1, `kept at ${second}`);
    assert.equal(await cache.get('g', 'a', 99, build, { until }), 2, 'never before it was built');
    assert.equal(await cache.get('g', 'a', 105, build, { until }), 3, 'built anew at its deadline');
    assert.equal(cache.keptUntil('a', 200), null);
  });

  it('keeps nothing whose deadline has passed already, and drops a kept answer with its group', async () => {
    const cache = new LookupCache<number>(stampSource(() => 'v1:0'));
    let builds = 0;
    const build = async () => ++builds;
    await cache.get('g', 'a', 100, build, { until: () => 100 });
    assert.equal(await cache.get('g', 'a', 100, build), 2);
    await cache.get('g', 'b', 100, build, { until: () => Number.POSITIVE_INFINITY });
    assert.equal(await cache.get('g', 'b', 10_000, build), 3, 'kept for ever while nothing changes');
    cache.invalidate('g');
    assert.equal(await cache.get('g', 'b', 10_000, build), 4);
  });

  it('drops the least recently used answer when full, not everything', async () => {
    const cache = new LookupCache<string>(
      stampSource(() => 'v1:0'),
      { maxEntries: 2 },
    );
    let builds = 0;
    const build = (text: string) => async () => {
      builds++;
      return text;
    };
    const forever = { until: () => Number.POSITIVE_INFINITY };
    await cache.get('g', 'a', 100, build('a'), forever);
    await cache.get('g', 'b', 100, build('b'), forever);
    await cache.get('g', 'a', 100, build('a'), forever);
    await cache.get('g', 'c', 100, build('c'), forever);
    assert.equal(builds, 3);
    await cache.get('g', 'a', 100, build('a'), forever);
    assert.equal(builds, 3, 'a was used last: kept');
    await cache.get('g', 'b', 100, build('b'), forever);
    assert.equal(builds, 4, 'b was the least recently used: dropped');
  });

  it('whatever happens, an answer is served only within its seconds and never after its group changed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ ask: fc.constantFrom('a', 'b'), second: fc.integer({ min: 0, max: 20 }), life: fc.integer({ min: 0, max: 5 }) }),
            fc.record({ change: fc.constantFrom('a', 'b') }),
          ),
          { maxLength: 40 },
        ),
        async (steps) => {
          const cache = new LookupCache<{ version: number; from: number; until: number }>(
            stampSource(() => 'v'),
            { maxEntries: 1 },
          );
          const versions = { a: 0, b: 0 };
          for (const step of steps) {
            if ('change' in step) {
              versions[step.change]++;
              cache.invalidate(step.change);
              continue;
            }
            const { ask, second, life } = step;
            const built = { version: versions[ask], from: second, until: second + life };
            const value = await cache.get(ask, ask, second, async () => built, { until: (v) => v.until });
            assert.equal(value.version, versions[ask], 'never from before a change');
            assert.ok(value.from <= second && (second < value.until || value === built), 'only within its seconds');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
