import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import fc from 'fast-check';
import { type Database, dropPostgresSchema, ensurePostgresSchema, openDatabase, write } from '../src/index.js';

const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

interface Tables {
  notes: { owner: string; id: string; text: string; hits: number };
}

/** The same cases on SQLite and PostgreSQL: a prepared query answers as the built one does. */
function preparedCases(open: () => Promise<Database<Tables>>) {
  let database: Database<Tables>;
  before(async () => {
    database = await open();
    await database.db.schema
      .createTable('notes')
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('hits', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('notes_pk', ['owner', 'id'])
      .execute();
  });

  const prepared = () => {
    const { db, prepare } = database;
    return {
      insert: prepare<{ owner: string; id: string; text: string }, unknown>((value) =>
        db.insertInto('notes').values({ owner: value('owner'), id: value('id'), text: value('text'), hits: 0 }),
      ),
      find: prepare<{ owner: string; id: string }, Tables['notes']>((value) =>
        db.selectFrom('notes').selectAll().where('owner', '=', value('owner')).where('id', '=', value('id')),
      ),
      // A constant (the limit) stays as built; the same name may appear twice.
      listed: prepare<{ owner: string }, { id: string }>((value) =>
        db.selectFrom('notes').select('id').where('owner', '=', value('owner')).where('id', '!=', value('owner')).orderBy('id').limit(2),
      ),
      hit: prepare<{ owner: string; id: string }, unknown>((value) =>
        db
          .updateTable('notes')
          .set((eb) => ({ hits: eb('hits', '+', 1) }))
          .where('owner', '=', value('owner'))
          .where('id', '=', value('id')),
      ),
    };
  };

  it('reads, writes and counts changed rows with the values of each call', async () => {
    const q = prepared();
    await q.insert.run({ owner: 'ann', id: 'a', text: 'first' });
    await q.insert.run({ owner: 'ann', id: 'b', text: 'second' });
    await q.insert.run({ owner: 'ann', id: 'c', text: 'third' });
    await q.insert.run({ owner: 'bob', id: 'a', text: 'other owner' });
    assert.equal((await q.find.first({ owner: 'ann', id: 'b' }))?.text, 'second');
    assert.equal((await q.find.first({ owner: 'bob', id: 'a' }))?.text, 'other owner');
    assert.equal(await q.find.first({ owner: 'carl', id: 'a' }), undefined);
    assert.deepEqual(await q.listed.all({ owner: 'ann' }), [{ id: 'a' }, { id: 'b' }]);
    assert.equal(await q.hit.run({ owner: 'ann', id: 'a' }), 1);
    assert.equal(await q.hit.run({ owner: 'ann', id: 'zzz' }), 0);
    assert.equal(Number((await q.find.first({ owner: 'ann', id: 'a' }))?.hits), 1);
  });

  it('rejects (does not throw) when the database refuses a write', async () => {
    const q = prepared();
    await q.insert.run({ owner: 'dup', id: 'x', text: 'once' });
    const outcome = q.insert.run({ owner: 'dup', id: 'x', text: 'twice' });
    assert.ok(outcome instanceof Promise);
    await assert.rejects(outcome);
  });

  it('runs a batch of writes as one transaction: all or none', async () => {
    const q = prepared();
    await database.runInTransaction([
      write(q.insert, { owner: 'batch', id: '1', text: 'one' }),
      write(q.insert, { owner: 'batch', id: '2', text: 'two' }),
    ]);
    assert.equal((await q.listed.all({ owner: 'batch' })).length, 2);
    await assert.rejects(
      database.runInTransaction([
        write(q.insert, { owner: 'batch', id: '3', text: 'three' }),
        write(q.insert, { owner: 'batch', id: '1', text: 'a duplicate' }),
      ]),
    );
    assert.equal(await q.find.first({ owner: 'batch', id: '3' }), undefined, 'the first write of a failed batch is undone');
  });

  it('runs a batch that arrives while another transaction is open after that one, whole', async () => {
    const q = prepared();
    let inside!: () => void;
    const insideTransaction = new Promise<void>((resolve) => {
      inside = resolve;
    });
    const transaction = database.db.transaction().execute(async (trx) => {
      await trx.insertInto('notes').values({ owner: 'open', id: 'first', text: 'from the transaction', hits: 0 }).execute();
      inside();
      await new Promise((resolve) => setTimeout(resolve, 30));
    });
    await insideTransaction;
    await database.runInTransaction([
      write(q.insert, { owner: 'open', id: 'second', text: 'from the batch' }),
      write(q.insert, { owner: 'open', id: 'third', text: 'from the batch' }),
    ]);
    await transaction;
    assert.deepEqual(await q.listed.all({ owner: 'open' }), [{ id: 'first' }, { id: 'second' }]);
    assert.equal((await q.find.first({ owner: 'open', id: 'third' }))?.text, 'from the batch');
  });

  it('never reads what an open transaction wrote and then rolled back', async () => {
    const q = prepared();
    let inside!: () => void;
    const insideTransaction = new Promise<void>((resolve) => {
      inside = resolve;
    });
    const transaction = database.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('notes').values({ owner: 'tx', id: 'ghost', text: 'uncommitted', hits: 0 }).execute();
        inside();
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('roll back');
      })
      .catch(() => 'rolled back');
    await insideTransaction;
    const read = await q.find.first({ owner: 'tx', id: 'ghost' });
    assert.equal(read, undefined);
    assert.equal(await transaction, 'rolled back');
  });

  it('reads back any text as the query builder does (property)', async () => {
    const q = prepared();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 40 }), async (text, owner) => {
        const id = `p${n++}`;
        await q.insert.run({ owner, id, text: text.replace(/\u0000/g, '') });
        const viaPrepared = await q.find.first({ owner, id });
        const viaBuilder = await database.db
          .selectFrom('notes')
          .selectAll()
          .where('owner', '=', owner)
          .where('id', '=', id)
          .executeTakeFirst();
        assert.deepEqual(viaPrepared, viaBuilder);
      }),
      { numRuns: 100 },
    );
  });
}

describe('prepared queries on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-prepared-'));
  const file = join(dir, 'prepared.db');
  let database: Database<Tables> | undefined;
  after(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  preparedCases(async () => {
    database = openDatabase<Tables>({ file });
    return database;
  });

  it('tells a commit by another connection by a changed data version, not its own', async () => {
    const own = database as Database<Tables>;
    const version = own.dataVersion as () => number;
    const before = version();
    await own.db.insertInto('notes').values({ owner: 'dv', id: 'own', text: 'mine', hits: 0 }).execute();
    assert.equal(version(), before, 'this connection’s own commit');
    const other = new SQLite(file);
    other.prepare("insert into notes values ('dv', 'other', 'theirs', 0)").run();
    other.close();
    assert.notEqual(version(), before, 'another connection’s commit');
  });
});

describe('prepared queries on PostgreSQL', { skip: postgresUrl ? false : 'SWARM_TEST_POSTGRES_URL is not set' }, () => {
  const schema = `t_prepared_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let database: Database<Tables> | undefined;
  after(async () => {
    await database?.close();
    if (postgresUrl) await dropPostgresSchema(postgresUrl, schema);
  });
  preparedCases(async () => {
    await ensurePostgresSchema(postgresUrl as string, schema);
    database = openDatabase<Tables>({ url: postgresUrl, schema });
    return database;
  });

  it('has no data version: rows read here cannot be trusted past the read', () => {
    assert.equal(database?.dataVersion, null);
  });
});
