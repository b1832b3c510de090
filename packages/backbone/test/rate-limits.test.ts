import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { OwnerQuery, SignUpBody, Username, UserRoles } from '@swarm/protocol';
import { clientAddress } from '@swarm/runtime';
import fc from 'fast-check';
import { HashQueue, MemoryBucketStore, RateLimited, RateLimits, RedisBucketStore } from '../src/auth/rate-limits.js';
import { adminRequest, setSignup } from './auth-admin.js';
import { type Developer, provisionAndDelegate, registerDeveloperApp, startTestNetwork, type TestNetwork } from './network.js';

/** A login sent from `localAddress` (Linux routes all of 127/8 locally): another client to the server. */
function loginFrom(localAddress: string, url: string, body: unknown): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      url,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ...(res.headers['retry-after'] ? { retryAfter: String(res.headers['retry-after']) } : {}),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('auth provider: login spraying from one address is throttled before hashing', () => {
  let network: TestNetwork;
  let alice: Developer;
  let issuer: string;

  before(async () => {
    network = await startTestNetwork();
    alice = await registerDeveloperApp(network.registry.url);
    issuer = (await provisionAndDelegate(network, alice)).authProviderUrl;
    await setSignup(issuer, alice, 'closed');
    const added = await adminRequest(issuer, alice, '/v1/admin/users', 'user_add', {
      username: 'real-user',
      password: 'the real password',
    });
    assert.equal(added.status, 201);
  });
  after(() => network.close());

  it('answers 300 logins with random usernames from one address mostly 429 within a bound; another address still logs in', async () => {
    const started = Date.now();
    const answers: Array<{ status: number; retryAfter?: string }> = [];
    // Ten at a time, as a sprayer keeping a few connections busy would.
    for (let batch = 0; batch < 30; batch++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            loginFrom('127.0.0.1', `${issuer}/v1/login`, {
              username: `victim${batch}x${i}${Math.random().toString(36).slice(2, 8)}`,
              password: 'Summer2024!',
            }),
          ),
        )),
      );
    }
    const seconds = (Date.now() - started) / 1000;
    const limited = answers.filter((answer) => answer.status === 429);
    const wrong = answers.filter((answer) => answer.status === 401);
    assert.equal(limited.length + wrong.length, 300, JSON.stringify(answers.filter((a) => a.status !== 429 && a.status !== 401)));
    assert.ok(limited.length >= 200, `${limited.length} of 300 throttled`);
    // Hashed at most: the address's burst plus its refill while the spray lasted (defaults 60, 0.5/s).
    assert.ok(wrong.length <= 60 + Math.ceil(seconds * 0.5) + 1, `${wrong.length} hashed in ${seconds} s`);
    assert.ok(seconds < 60, `took ${seconds} s`);
    assert.ok(
      limited.every((answer) => Number(answer.retryAfter) >= 1),
      'every 429 says when to come back',
    );

    const other = await loginFrom('127.0.0.2', `${issuer}/v1/login`, { username: 'real-user', password: 'the real password' });
    assert.equal(other.status, 200, 'the app’s bucket was not drained by one address');
  });
});

describe('rate limits: buckets, client addresses, the hashing queue', () => {
  it('never admits more than capacity + rate × elapsed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 200 }),
        (capacity, perSecond, steps) => {
          let now = 1_000_000;
          const store = new MemoryBucketStore({ now: () => now });
          let admitted = 0;
          for (const step of steps) {
            now += step;
            if (store.takeNow('k', { capacity, perSecond }) === 0) admitted++;
          }
          const elapsed = (now - 1_000_000) / 1000;
          assert.ok(admitted <= capacity + elapsed * perSecond + 1e-9, `${admitted} > ${capacity} + ${elapsed} × ${perSecond}`);
        },
      ),
    );
  });

  it('says how long to wait, and keeps at most maxKeys buckets (property)', () => {
    let now = 0;
    const store = new MemoryBucketStore({ now: () => now, maxKeys: 10 });
    const rule = { capacity: 2, perSecond: 0.5 };
    assert.equal(store.takeNow('a', rule), 0);
    assert.equal(store.takeNow('a', rule), 0);
    assert.equal(store.takeNow('a', rule), 2000);
    now += 2000;
    assert.equal(store.takeNow('a', rule), 0);
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 4 }), { maxLength: 100 }), (keys) => {
        for (const key of keys) {
          store.takeNow(key, rule);
          assert.ok(store.size <= 10);
        }
      }),
    );
  });

  it('takes the address bucket first, then the app’s, and reports 429 with whole seconds', async () => {
    const limits = new RateLimits(new MemoryBucketStore(), {
      loginPerAddress: { capacity: 1, perSecond: 0.001 },
      loginPerApp: { capacity: 2, perSecond: 0.001 },
    });
    await limits.admit('login', 'app', '10.0.0.1');
    const refused = await limits.admit('login', 'app', '10.0.0.1').catch((error: unknown) => error);
    assert.ok(refused instanceof RateLimited);
    assert.equal(refused.status, 429);
    assert.ok(refused.retryAfterSeconds >= 1);
    await limits.admit('login', 'app', '10.0.0.2');
    // The app's bucket is empty now, for every address.
    assert.ok((await limits.admit('login', 'app', '10.0.0.3').catch((error: unknown) => error)) instanceof RateLimited);
    await limits.admit('signup', 'app', '10.0.0.3');
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped address as IPv4 (property)', () => {
    assert.equal(clientAddress('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientAddress('192.0.2.7'), '192.0.2.7');
    assert.equal(clientAddress('2001:db8:1:2::1'), clientAddress('2001:0db8:0001:0002:ffff:eeee:dddd:cccc'));
    assert.notEqual(clientAddress('2001:db8:1:2::1'), clientAddress('2001:db8:1:3::1'));
    assert.equal(clientAddress('::1'), '0:0:0:0::/64');
    fc.assert(
      fc.property(fc.ipV6(), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }), (address, tail) => {
        const key = clientAddress(address);
        assert.ok(key.length <= 40, key);
        if (!address.includes('.')) {
          const full = new URL(`http://[${address}]/`).hostname.slice(1, -1);
          const expanded = expand(full);
          const sibling = [...expanded.slice(0, 4), ...tail.map((group) => group.toString(16))].join(':');
          assert.equal(clientAddress(sibling), key, `${address} vs ${sibling}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('runs at most `concurrency` hashes and sheds beyond the queue with rate_limited', async () => {
    const queue = new HashQueue({ concurrency: 2, maxWaiting: 3 });
    const releases: Array<() => void> = [];
    const work = () => new Promise<void>((resolve) => releases.push(resolve));
    const running = Array.from({ length: 5 }, () => queue.run(work));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(queue.running, 2);
    assert.equal(queue.waiting, 3);
    await assert.rejects(queue.run(work), (error: unknown) => error instanceof RateLimited && error.code === 'rate_limited');
    while (releases.length > 0 || queue.running > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(queue.running <= 2);
    }
    await Promise.all(running);
    assert.equal(queue.waiting, 0);
  });

  it('parses the sign-up and owner bodies strictly (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,20}$/),
        fc.string({ minLength: 8, maxLength: 40 }),
        (username, password) => {
          assert.ok(SignUpBody.safeParse({ username, password }).success);
          assert.ok(!SignUpBody.safeParse({ username, password, admin: true }).success);
          assert.ok(!SignUpBody.safeParse({ username: ` ${username}`, password }).success);
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 130 }), (name) => {
        assert.equal(Username.safeParse(name).success, /^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/.test(name));
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z][a-z0-9_:-]{0,10}$/), { maxLength: 40 }), (roles) => {
        assert.equal(UserRoles.safeParse(roles).success, roles.length <= 32 && new Set(roles).size === roles.length);
      }),
    );
    fc.assert(
      fc.property(fc.webUrl(), fc.string(), (audience, junk) => {
        const data = { app_id: 'a', audience, timestamp: 1, nonce: 'abcdefgh' };
        const envelope = { version: '1.0', data, signature: 'a'.repeat(128) };
        assert.equal(OwnerQuery.safeParse(envelope).success, audience.length <= 2048 && !new URL(audience).username);
        assert.ok(!OwnerQuery.safeParse({ ...envelope, data: { ...data, [`x${junk}`]: 1 } }).success);
      }),
    );
  });
});

const redisUrl = process.env.SWARM_TEST_REDIS_URL;

describe('rate limits shared through Redis', { skip: redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set' }, () => {
  it('two replicas draw from one bucket', async () => {
    const prefix = `swarm:test:bucket:${process.pid}:${Date.now()}`;
    const [a, b] = await Promise.all([
      RedisBucketStore.open(redisUrl as string, prefix),
      RedisBucketStore.open(redisUrl as string, prefix),
    ]);
    try {
      const rule = { capacity: 4, perSecond: 0.01 };
      const waits = [];
      for (let i = 0; i < 6; i++) waits.push(await (i % 2 === 0 ? a : b).take('login:addr:10.1.1.1', rule));
      assert.deepEqual(
        waits.map((wait) => wait > 0),
        [false, false, false, false, true, true],
      );
      assert.ok((waits[4] ?? 0) > 1000);
      assert.equal(await a.take('login:addr:10.1.1.2', rule), 0, 'per key');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

/** `2001:db8::1` → its eight groups. */
function expand(address: string): string[] {
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  return address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
}
