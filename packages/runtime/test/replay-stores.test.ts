import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ReplayStore } from '@swarm/protocol';
import fc from 'fast-check';
import { type Database, dropPostgresSchema, ensurePostgresSchema, openDatabase, RedisReplayStore, SqlReplayStore } from '../src/index.js';

const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;
const redisUrl = process.env.SWARM_TEST_REDIS_URL;
const now = () => Math.floor(Date.now() / 1000);
const unique = () => `${process.pid}-${Math.random().toString(36).slice(2)}`;

/** The same cases against every store: a nonce is new once per scope, and racing inserts agree. */
function replayCases(open: () => Promise<ReplayStore>) {
  it('accepts a nonce once per scope', async () => {
    const store = await open();
    const nonce = `n-${unique()}`;
    assert.equal(await store.unique('key-a', nonce, now() + 300), true);
    assert.equal(await store.unique('key-a', nonce, now() + 300), false);
    assert.equal(await store.unique('key-b', nonce, now() + 300), true);
  });

  it('lets exactly one of many concurrent uses of a nonce win', async () => {
    const store = await open();
    const nonce = `race-${unique()}`;
    const results = await Promise.all(Array.from({ length: 20 }, () => store.unique('key-a', nonce, now() + 300)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  it('answers every use asked for in one turn as if asked one at a time (property)', async () => {
    const store = await open();
    // Uses drawn from few scopes and nonces, so repeats within one turn are common.
    const uses = fc.array(fc.record({ scope: fc.constantFrom('key-a', 'key-b'), nonce: fc.constantFrom('1', '2', '3', '4') }), {
      minLength: 1,
      maxLength: 12,
    });
    await fc.assert(
      fc.asyncProperty(uses, async (drawn) => {
        const run = unique();
        const answers = await Promise.all(drawn.map((use) => store.unique(use.scope, `${run}-${use.nonce}`, now() + 300)));
        const seen = new Set<string>();
        const expected = drawn.map((use) => {
          const key = `${use.scope}/${use.nonce}`;
          const first = !seen.has(key);
          seen.add(key);
          return first;
        });
        assert.deepEqual(answers, expected);
        // And every one of them is remembered once the turn is over.
        for (const use of drawn) assert.equal(await store.unique(use.scope, `${run}-${use.nonce}`, now() + 300), false);
      }),
      { numRuns: 15 },
    );
  });

  it('accepts a nonce again once its entry expired', async () => {
    const store = await open();
    const nonce = `old-${unique()}`;
    assert.equal(await store.unique('key-a', nonce, now() - 1), true);
    assert.equal(await store.unique('key-a', nonce, now() + 300), true);
    assert.equal(await store.unique('key-a', nonce, now() + 300), false);
  });
}

describe('SqlReplayStore on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-replay-'));
  let database: Database<unknown> | undefined;
  after(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  replayCases(async () => {
    database ??= openDatabase({ file: join(dir, 'nonces.db') });
    return SqlReplayStore.open(database.db);
  });

  it('fails every use of a group when the database fails, and spends none of them', async () => {
    const file = join(dir, 'failing.db');
    const failing = openDatabase({ file });
    const store = await SqlReplayStore.open(failing.db);
    await failing.close();
    const results = await Promise.allSettled([store.unique('k', 'f-1', now() + 300), store.unique('k', 'f-2', now() + 300)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    const reopened = openDatabase({ file });
    const again = await SqlReplayStore.open(reopened.db);
    assert.deepEqual(await Promise.all([again.unique('k', 'f-1', now() + 300), again.unique('k', 'f-2', now() + 300)]), [true, true]);
    await reopened.close();
  });

  it('remembers nonces across a restart', async () => {
    const file = join(dir, 'restart.db');
    const first = openDatabase({ file });
    assert.equal(await (await SqlReplayStore.open(first.db)).unique('k', 'restart-1', now() + 300), true);
    await first.close();
    const second = openDatabase({ file });
    assert.equal(await (await SqlReplayStore.open(second.db)).unique('k', 'restart-1', now() + 300), false);
    await second.close();
  });
});

describe('SqlReplayStore on PostgreSQL', { skip: postgresUrl ? false : 'SWARM_TEST_POSTGRES_URL is not set' }, () => {
  const schema = `t_replay_${unique().replace(/-/g, '_')}`;
  const databases: Database<unknown>[] = [];
  after(async () => {
    for (const database of databases) await database.close();
    if (postgresUrl) await dropPostgresSchema(postgresUrl, schema);
  });
  const open = async () => {
    await ensurePostgresSchema(postgresUrl as string, schema);
    const database = openDatabase({ url: postgresUrl, schema });
    databases.push(database);
    return SqlReplayStore.open(database.db);
  };
  replayCases(open);

  it('two processes on one database never both accept a nonce', async () => {
    const [a, b] = [await open(), await open()];
    const nonce = `shared-${unique()}`;
    const results = await Promise.all([a.unique('k', nonce, now() + 300), b.unique('k', nonce, now() + 300)]);
    assert.deepEqual(results.sort(), [false, true]);
  });
});

describe('RedisReplayStore', { skip: redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set' }, () => {
  const stores: RedisReplayStore[] = [];
  after(async () => {
    for (const store of stores) await store.close();
  });
  const open = async () => {
    const store = await RedisReplayStore.open(redisUrl as string, `swarm:test:${unique()}`);
    stores.push(store);
    return store;
  };
  replayCases(open);

  it('shares nonces between replicas', async () => {
    const prefix = `swarm:test:${unique()}`;
    const a = await RedisReplayStore.open(redisUrl as string, prefix);
    const b = await RedisReplayStore.open(redisUrl as string, prefix);
    stores.push(a, b);
    assert.equal(await a.unique('k', 'replica-1', now() + 300), true);
    assert.equal(await b.unique('k', 'replica-1', now() + 300), false);
  });

  it('fails with registry_unavailable, not a crash, when Redis is unreachable', async () => {
    await assert.rejects(RedisReplayStore.open('redis://127.0.0.1:1', 'x'));
  });
});
