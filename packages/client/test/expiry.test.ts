import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import fc from 'fast-check';
import { parseExpiry } from '../src/index.js';

describe('parseExpiry (swarm delegate --expires)', () => {
  const now = Date.UTC(2030, 0, 1);
  const units = { s: 1, m: 60, h: 3600, d: 86400 } as const;

  it('reads a duration as that many units from now', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), fc.constantFrom('s', 'm', 'h', 'd'), (n, unit) => {
        assert.equal(parseExpiry(`${n}${unit}`, now), now / 1000 + n * units[unit as keyof typeof units]);
      }),
    );
  });

  it('reads an ISO 8601 time', () => {
    assert.equal(parseExpiry('2030-01-02T00:00:00Z', now), now / 1000 + 86400);
  });

  it('answers anything else with invalid_request, never another error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        try {
          const at = parseExpiry(text, now);
          assert.ok(Number.isInteger(at));
        } catch (error) {
          assert.ok(error instanceof SwarmError);
          assert.equal(error.code, 'invalid_request');
        }
      }),
      { numRuns: 500 },
    );
  });
});
