import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_BODY_BYTES, readJsonBody, SwarmError } from '../src/index.js';

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (error) {
    assert.ok(error instanceof SwarmError, `threw ${String(error)}`);
    return error.code;
  }
}

describe('readJsonBody', () => {
  it('refuses what JSON.parse lets by', () => {
    assert.equal(
      codeOf(() => readJsonBody('{"a":1,"a":2}')),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => readJsonBody('{"a":{"b":1,"b":1}}')),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => readJsonBody('{"a":[{"x":1},{"y":[{"z":1,"z":2}]}]}')),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => readJsonBody('{"a":1,"\\u0061":2}')),
      'invalid_request',
    );
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      assert.equal(
        codeOf(() => readJsonBody(`{"data":{"${key}":{"admin":true}}}`)),
        'invalid_request',
        key,
      );
    }
    for (const top of ['[]', '1', '"x"', 'null', 'true'])
      assert.equal(
        codeOf(() => readJsonBody(top)),
        'invalid_request',
        top,
      );
    for (const bad of ['', '{', '{"a":}', "{'a':1}", '{"a":1,}', 'NaN'])
      assert.equal(
        codeOf(() => readJsonBody(bad)),
        'invalid_request',
        bad,
      );
  });

  it('refuses bodies over 64 KiB before parsing them', () => {
    const big = `{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    assert.equal(
      codeOf(() => readJsonBody(big)),
      'payload_too_large',
    );
    assert.equal(
      codeOf(() => readJsonBody(Buffer.from(big))),
      'payload_too_large',
    );
  });

  it('keeps keys that only look alike and strings that contain braces and quotes', () => {
    assert.deepEqual(readJsonBody('{"a":"{\\"a\\":1,\\"a\\":2}","b":{"a":1},"c":[{"a":1},{"a":1}]}'), {
      a: '{"a":1,"a":2}',
      b: { a: 1 },
      c: [{ a: 1 }, { a: 1 }],
    });
    assert.deepEqual(readJsonBody(' \n{"é":"\\\\","e\\u0301":1}'), { é: '\\', 'e\u0301': 1 });
  });

  it('returns exactly JSON.parse of any valid object without duplicate keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const text = JSON.stringify(object);
        const forbidden = /"(__proto__|constructor|prototype)":/.test(text);
        if (forbidden)
          assert.equal(
            codeOf(() => readJsonBody(text)),
            'invalid_request',
          );
        else assert.deepEqual(readJsonBody(text), JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('finds a duplicate key injected anywhere', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.jsonValue(), { minKeys: 1 }), fc.jsonValue(), (object, extra) => {
        const text = JSON.stringify(object);
        const key = JSON.stringify(Object.keys(object)[0]);
        const duplicated = `{${key}:${JSON.stringify(extra) ?? 'null'},${text.slice(1)}`;
        assert.equal(
          codeOf(() => readJsonBody(`{"outer":[${duplicated}]}`)),
          'invalid_request',
        );
      }),
      { numRuns: 300 },
    );
  });

  it('throws nothing but SwarmError on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
        ),
        (input) => {
          codeOf(() => readJsonBody(input));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
