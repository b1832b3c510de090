import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import fc from 'fast-check';
import { bearerToken, MAX_BEARER_TOKEN_LENGTH, requireBearerToken } from '../src/index.js';

// Visible ASCII, what a token may hold.
const tokenChar = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 200 });
const spaces = fc.string({ unit: fc.constantFrom(' ', '\t'), minLength: 1, maxLength: 3 });
const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR');

describe('bearerToken', () => {
  it('reads back any visible-ASCII token under any casing of the scheme (property)', () => {
    fc.assert(
      fc.property(scheme, spaces, token, (name, gap, value) => {
        assert.equal(bearerToken(`${name}${gap}${value}`), value);
      }),
    );
  });

  it('finds a token only after the scheme, whole, without blanks and within the cap (property)', () => {
    const header = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.tuple(scheme, fc.string({ unit: fc.constantFrom(' ', '\t', 'a', '.', 'é', '\n') })).map(([name, rest]) => name + rest),
      fc.anything(),
    );
    fc.assert(
      fc.property(header, (value) => {
        const found = bearerToken(value);
        if (found === null) return;
        const text = value as string;
        assert.ok(text.toLowerCase().startsWith('bearer'));
        assert.ok(text.trimEnd().endsWith(found));
        assert.match(found, /^[\x21-\x7e]+$/);
        assert.ok(found.length <= MAX_BEARER_TOKEN_LENGTH);
        assert.equal(bearerToken(`Bearer ${found}`), found);
      }),
    );
  });

  it('refuses a missing, other-scheme, empty, spaced or over-long token', () => {
    for (const header of [undefined, null, 42, ['Bearer a'], '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc', 'Bearer é']) {
      assert.equal(bearerToken(header), null, String(header));
    }
    assert.equal(bearerToken(`Bearer ${'a'.repeat(MAX_BEARER_TOKEN_LENGTH)}`)?.length, MAX_BEARER_TOKEN_LENGTH);
    assert.equal(bearerToken(`Bearer ${'a'.repeat(MAX_BEARER_TOKEN_LENGTH + 1)}`), null);
  });

  it('throws with the code each caller needs', () => {
    const thrown = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        assert.ok(error instanceof SwarmError);
        return [error.code, error.status, error.message];
      }
      assert.fail('did not throw');
    };
    assert.equal(requireBearerToken('Bearer a.b.c'), 'a.b.c');
    assert.deepEqual(
      thrown(() => requireBearerToken('Basic x')),
      ['invalid_token', 401, 'Authorization: Bearer <token> is required'],
    );
    assert.deepEqual(
      thrown(() => requireBearerToken(undefined, 'forbidden', 'an admin token is needed')),
      ['forbidden', 403, 'an admin token is needed'],
    );
  });
});
