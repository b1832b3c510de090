import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LoginThrottle } from '../src/auth/login-throttle.js';

/** One whole attempt that fails at `at`: the retry-after it was refused with, or 0 when it ran. */
function wrongPassword(throttle: LoginThrottle, name: string, at: number): number {
  const refused = throttle.begin('app', name, at);
  if (refused === 0) throttle.failed('app', name, at);
  return refused;
}

describe('LoginThrottle', () => {
  it('locks after the free failures for 1 s, doubling, up to the cap; success clears', () => {
    const throttle = new LoginThrottle({ freeFailures: 2, maxLockSeconds: 5 });
    let at = 1_000_000;
    assert.equal(wrongPassword(throttle, 'ann', at), 0);
    assert.equal(wrongPassword(throttle, 'ann', at), 0, 'the second failure runs, then locks');
    const locks: number[] = [];
    for (let i = 0; i < 5; i++) {
      locks.push(throttle.begin('app', 'ann', at));
      at += locks.at(-1)! * 1000;
      assert.equal(wrongPassword(throttle, 'ann', at), 0, 'runs once the lock ran out');
    }
    assert.deepEqual(locks, [1, 2, 4, 5, 5]);
    assert.equal(throttle.begin('other-app', 'ann', at), 0, 'per app');
    throttle.abandoned('other-app', 'ann');
    at += 5000;
    assert.equal(throttle.begin('app', 'ann', at), 0);
    throttle.succeeded('app', 'ann');
    assert.equal(wrongPassword(throttle, 'ann', at), 0, 'cleared: a failure is free again');
    assert.equal(throttle.begin('app', 'ann', at), 0);
  });

  it('counts names exactly as the user store compares them', () => {
    const throttle = new LoginThrottle({ freeFailures: 1 });
    wrongPassword(throttle, 'Alice', 0);
    assert.ok(throttle.begin('app', 'Alice', 0) > 0);
    assert.equal(throttle.begin('app', 'alice', 0), 0, 'another user of the store');
  });

  it('lets no more guesses be in flight than failures are left before the lock', () => {
    const throttle = new LoginThrottle({ freeFailures: 3 });
    const started = Array.from({ length: 10 }, () => throttle.begin('app', 'bob', 0));
    assert.deepEqual(started, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    for (let i = 0; i < 3; i++) throttle.failed('app', 'bob', 0);
    assert.equal(throttle.begin('app', 'bob', 0), 1, 'three failures: locked');
    assert.equal(throttle.begin('app', 'bob', 1000), 0, 'after the lock: one at a time');
    assert.equal(throttle.begin('app', 'bob', 1000), 1);
  });

  it('counts at most maxNames names (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 10_000 })), { maxLength: 300 }), (failures) => {
        const throttle = new LoginThrottle({ freeFailures: 1, maxLockSeconds: 60, maxNames: 20 });
        for (const [name, at] of failures) {
          wrongPassword(throttle, name, at);
          assert.ok(throttle.size <= 20, `${throttle.size} names`);
        }
      }),
    );
  });
});
