import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import fc from 'fast-check';
import { z } from 'zod';
import { decodeCursor, encodeCursor, MAX_CURSOR_CHARS, pageLimit, pageOf } from '../src/paging.js';

const Position = z.tuple([z.number().int(), z.string().min(1)]);
const invalid = (error: unknown) => error instanceof SwarmError && error.code === 'invalid_request';

describe('list cursors and limits', () => {
  it('give back the position they were made from, under the same filter only', () => {
    fc.assert(
      fc.property(fc.integer(), fc.string({ minLength: 1, maxLength: 200 }), fc.array(fc.string(), { maxLength: 3 }), (n, id, filter) => {
        const cursor = encodeCursor([n, id], filter);
        assert.match(cursor, /^[A-Za-z0-9_-]+$/);
        assert.deepEqual(decodeCursor(cursor, Position, filter), [n, id]);
        assert.throws(() => decodeCursor(cursor, Position, [...filter, 'other']), invalid);
      }),
    );
  });

  it('refuse anything else as invalid_request, never another error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.base64String(),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
        ),
        (text) => {
          try {
            decodeCursor(text, Position, []);
          } catch (error) {
            assert.ok(invalid(error), String(error));
          }
        },
      ),
      { numRuns: 500 },
    );
    // Well-formed envelopes around wrong positions.
    for (const position of [[], [1], ['1', 'a'], [1, ''], [1.5, 'a'], [1, 'a', 3]]) {
      assert.throws(() => decodeCursor(encodeCursor(position, []), Position, []), invalid, JSON.stringify(position));
    }
    assert.throws(() => decodeCursor('a'.repeat(MAX_CURSOR_CHARS + 1), Position, []), invalid);
    assert.throws(() => decodeCursor(['a'], Position, []), invalid);
    assert.equal(decodeCursor(undefined, Position, []), null);
  });

  it('take limits of digits within the maximum, the default when absent', () => {
    assert.equal(pageLimit(undefined, { default: 7, max: 10 }), 7);
    assert.equal(pageLimit('10', { default: 7, max: 10 }), 10);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer().map(String), fc.array(fc.string())), (raw) => {
        try {
          const limit = pageLimit(raw, { default: 7, max: 10 });
          assert.ok(Number.isInteger(limit) && limit >= 1 && limit <= 10);
        } catch (error) {
          assert.ok(invalid(error));
        }
      }),
    );
  });

  it('cut a page after limit rows and point after the last kept', () => {
    const rows = [1, 2, 3].map((n) => ({ n }));
    assert.deepEqual(
      pageOf(rows, 3, (r) => [r.n], []),
      { rows, nextCursor: null },
    );
    const page = pageOf(rows, 2, (r) => [r.n], []);
    assert.deepEqual(page.rows, rows.slice(0, 2));
    assert.deepEqual(decodeCursor(page.nextCursor, z.tuple([z.number()]), []), [2]);
  });
});
