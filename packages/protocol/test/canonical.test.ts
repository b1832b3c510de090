import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical.js';

/** The same value with every object's keys in code-unit order: what takes the JSON.stringify path. */
function sortedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedCopy);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    // defineProperty: an own `__proto__` key stays a key.
    Object.defineProperty(copy, key, {
      value: sortedCopy((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

describe('canonical JSON (RFC 8785)', () => {
  it('writes any JSON value exactly as the JCS library does, keys in order or not (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assert.equal(canonicalJson(value), canonicalize(value));
        assert.equal(canonicalJson(sortedCopy(value)), canonicalize(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes numbers, escapes and keys that sort differently from their insertion order as JCS does', () => {
    const cases: unknown[] = [
      { b: 1, a: 2 },
      { 10: 'x', 9: 'y' },
      { b: 1, 10: 2, 9: 3, a: { d: 1, c: [{ y: 1, x: 2 }] } },
      { a: -0, b: 1e21, c: 5e-7, d: 0.1 + 0.2, e: -1.5e-300 },
      { '\u20ac': 1, '\r': 2, '\ud83d\ude00': 3, a: 4 },
      ['\u0000\u001f"\\/\u2028', { z: [null, true, false] }],
      { a: undefined, b: 1 },
      [undefined, 1],
      { date: new Date(0) },
      Object.assign(Object.create(null), { b: 1, a: 2 }),
    ];
    for (const value of cases) assert.equal(canonicalJson(value), canonicalize(value), JSON.stringify(value));
  });

  it('refuses what has no canonical form, on either path', () => {
    for (const value of ['\ud800', { a: '\udc00' }, { '\ud800': 1 }, Number.NaN, { a: Number.POSITIVE_INFINITY }]) {
      assert.throws(
        () => canonicalJson(value),
        (error: { code?: string }) => error.code === 'invalid_request',
      );
    }
  });
});
