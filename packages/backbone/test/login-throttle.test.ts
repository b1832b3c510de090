import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LoginThrottle } from '../src/auth/login-throttle.js';

describe('LoginThrottle', () => {
  it('locks after the free failures for 1 s, doubling, up to the cap', () => {
    const throttle = new LoginThrottle({ freeFailures: 2, maxLockSeconds: 5 });
    const at = 1_000_000;
    throttle.failed('app', 'ann', at);
    throttle.failed('app', 'ann', at);
    assert.equal(throttle.retryAfterSeconds('app', 'ann', at), 0, 'two free failures');
    const locks = [1, 2, 4, 5, 5].map(() => {
      throttle.failed('app', 'ann', at);
      return throttle.retryAfterSeconds('app', 'ann', at);
    });
    assert.deepEqual(locks, [1, 2, 4, 5, 5]);
    assert.equal(throttle.retryAfterSeconds('app', 'ann', at + 5000), 0);
    assert.equal(throttle.retryAfterSeconds('app', 'ANN', at), 5, 'names are compared without case');
    assert.equal(throttle.retryAfterSeconds('other-app', 'ann', at), 0);
    throttle.succeeded('app', 'ann');
    assert.equal(throttle.retryAfterSeconds('app', 'ann', at), 0);
  });

  it('counts at most maxNames names, dropping unlocked ones first (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 10_000 })), { maxLength: 300 }), (failures) => {
        const throttle = new LoginThrottle({ freeFailures: 1, maxLockSeconds: 60, maxNames: 20 });
        for (const [name, at] of failures) {
          throttle.failed('app', name, at);
          assert.ok(throttle.size <= 20, `${throttle.size} names`);
        }
      }),
    );
  });
});
