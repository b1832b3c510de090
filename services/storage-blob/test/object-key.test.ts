import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import fc from 'fast-check';
import { parseObjectKey } from '../src/object-key.js';

const encode = (key: string) => key.split('/').map(encodeURIComponent).join('/');

describe('object keys', () => {
  it('decodes each segment and keeps slashes', () => {
    assert.equal(parseObjectKey('photos/2024/caf%C3%A9%20au%20lait.jpg'), 'photos/2024/café au lait.jpg');
    assert.equal(parseObjectKey('a%2Fb'), 'a/b');
    assert.equal(parseObjectKey('x'.repeat(1024)), 'x'.repeat(1024));
  });

  it('refuses empty, dot, dot-dot, oversize and broken keys', () => {
    for (const bad of [
      '',
      '.',
      '..',
      'a/../b',
      'a/./b',
      '%2E%2E/x',
      'a//b',
      '/a',
      'a/',
      'x'.repeat(1025),
      '%C3',
      '%zz',
      'é'.repeat(513),
      '%00',
    ]) {
      assert.throws(
        () => parseObjectKey(bad),
        (error: unknown) => error instanceof SwarmError && error.code === 'invalid_request',
        bad,
      );
    }
  });

  it('round-trips any key of non-empty, non-dot segments', () => {
    const segment = fc
      .string({ minLength: 1, maxLength: 20, unit: 'grapheme' })
      .filter((s) => s !== '.' && s !== '..' && !s.includes('/') && !/[\u0000-\u001f\u007f]/.test(s));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), (segments) => {
        const key = segments.join('/');
        fc.pre(Buffer.byteLength(key) <= 1024);
        assert.equal(parseObjectKey(encode(key)), key);
      }),
      { numRuns: 300 },
    );
  });

  it('answers anything with a key or invalid_request, never another error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (raw) => {
        try {
          const key = parseObjectKey(raw);
          assert.ok(Buffer.byteLength(key) >= 1 && Buffer.byteLength(key) <= 1024);
          assert.ok(!key.split('/').some((s) => s === '.' || s === '..' || s === ''));
        } catch (error) {
          assert.ok(error instanceof SwarmError && error.code === 'invalid_request');
        }
      }),
      { numRuns: 500 },
    );
  });
});
