import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwarmError } from '@swarm/protocol';
import fc from 'fast-check';
import { ifMatchPasses, ifNoneMatchPasses, parseEntityTags, requireWritePreconditions } from '../src/conditions.js';

describe('entity-tag conditions (RFC 9110)', () => {
  it('read lists, stars and weak tags', () => {
    assert.equal(parseEntityTags(undefined), null);
    assert.equal(parseEntityTags(' * '), '*');
    assert.deepEqual(parseEntityTags('"a", W/"b" ,"c"'), [
      { weak: false, tag: 'a' },
      { weak: true, tag: 'b' },
      { weak: false, tag: 'c' },
    ]);
    for (const bad of ['a', '"a', 'W/a', '"a" "b"', ',', '"a"b']) assert.throws(() => parseEntityTags(bad), /entity tags/, bad);
  });

  it('compare strongly for If-Match and weakly for If-None-Match', () => {
    assert.equal(ifMatchPasses('"1"', '1'), true);
    assert.equal(ifMatchPasses('W/"1"', '1'), false);
    assert.equal(ifMatchPasses('*', null), false);
    assert.equal(ifMatchPasses('*', '1'), true);
    assert.equal(ifNoneMatchPasses('W/"1"', '1'), false);
    assert.equal(ifNoneMatchPasses('*', null), true);
    assert.equal(ifNoneMatchPasses('*', '1'), false);
    assert.throws(
      () => requireWritePreconditions({ 'if-match': '"2"' }, '1', 'it'),
      (error) => error instanceof SwarmError && error.status === 412,
    );
  });

  it('never fail but with invalid_request, whatever the header', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.array(fc.string())),
        fc.option(fc.string()),
        (header, current) => {
          for (const check of [ifMatchPasses, ifNoneMatchPasses]) {
            try {
              assert.equal(typeof check(header, current), 'boolean');
            } catch (error) {
              assert.ok(error instanceof SwarmError && error.code === 'invalid_request', String(error));
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
