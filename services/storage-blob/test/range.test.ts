import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { prefixEnd } from '../src/listing.js';
import { parseRange } from '../src/range.js';

describe('Range parsing', () => {
  it('serves the edges and refuses what is past the end', () => {
    assert.deepEqual(parseRange('bytes=0-0', 11), { kind: 'partial', start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=10-', 11), { kind: 'partial', start: 10, end: 10 });
    assert.deepEqual(parseRange('bytes=-3', 11), { kind: 'partial', start: 8, end: 10 });
    assert.deepEqual(parseRange('bytes=-30', 11), { kind: 'partial', start: 0, end: 10 });
    assert.deepEqual(parseRange('bytes=3-99', 11), { kind: 'partial', start: 3, end: 10 });
    assert.deepEqual(parseRange('bytes=11-', 11), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-0', 11), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    for (const ignored of [
      undefined,
      'bytes=1-2,4-5',
      'bytes=2-1',
      'bytes=a-',
      'items=0-1',
      'bytes=--1',
      'bytes=1',
      `bytes=0-${'9'.repeat(20)}`,
    ])
      assert.deepEqual(parseRange(ignored, 11), { kind: 'full' }, String(ignored));
  });

  it('answers only ranges inside the object, for any header and size', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.tuple(fc.option(fc.nat()), fc.option(fc.nat())).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
        ),
        fc.nat({ max: 1_000_000 }),
        (header, size) => {
          const range = parseRange(header, size);
          if (range.kind !== 'partial') return;
          assert.ok(range.start >= 0 && range.start <= range.end && range.end < size, `${header} ${size} ${JSON.stringify(range)}`);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('prefix ends', () => {
  const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  it('lie above every string with the prefix and below every other string above it', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
        fc.string({ unit: 'grapheme', maxLength: 6 }),
        fc.string({ unit: 'grapheme', maxLength: 6 }),
        (prefix, rest, other) => {
          const end = prefixEnd(prefix);
          if (end === null) return;
          assert.ok(byteOrder(prefix + rest, end) < 0, 'above what has the prefix');
          if (!other.startsWith(prefix) && byteOrder(other, prefix) > 0) assert.ok(byteOrder(other, end) >= 0, 'not above what does not');
        },
      ),
      { numRuns: 1000 },
    );
    assert.equal(prefixEnd('\u{10FFFF}'), null);
    assert.equal(prefixEnd('a\u{10FFFF}'), 'b');
    assert.equal(prefixEnd('\uD7FF'), '\uE000');
  });
});
