import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateSigningKey, parseTrustList, SwarmError, TrustedRegistries, verifyAppExport } from '../src/index.js';

const key = generateSigningKey().publicKey;

describe('parseTrustList: the text of an operator’s trust file', () => {
  it('reads entries, drops a trailing slash and refuses what is not a trust list with invalid_request', () => {
    assert.deepEqual(parseTrustList(JSON.stringify([{ authority: 'a.example', baseUrl: 'https://a.example/', publicKey: key }])), [
      { authority: 'a.example', baseUrl: 'https://a.example', publicKey: key },
    ]);
    const refused = [
      '',
      'not json',
      '{}',
      '[1]',
      JSON.stringify([{ authority: 'a.example', baseUrl: 'https://a.example' }]),
      JSON.stringify([{ authority: 'a.example', baseUrl: 'ftp://a.example', publicKey: key }]),
      JSON.stringify([{ authority: 'a.example', baseUrl: 'https://a.example', publicKey: 'ed25519:AAAA' }]),
      JSON.stringify([{ authority: 'a.example', baseUrl: 'https://a.example', publicKey: key, extra: 1 }]),
      JSON.stringify([
        { authority: 'a.example', baseUrl: 'https://a.example', publicKey: key },
        { authority: 'a.example', baseUrl: 'https://b.example', publicKey: key },
      ]),
    ];
    for (const text of refused) {
      assert.throws(
        () => parseTrustList(text),
        (error: unknown) => error instanceof SwarmError && error.code === 'invalid_request',
        text,
      );
    }
  });

  it('answers entries or invalid_request for any text, never another error (property)', () => {
    const entryish = fc.record(
      { authority: fc.string(), baseUrl: fc.oneof(fc.webUrl(), fc.string()), publicKey: fc.oneof(fc.constant(key), fc.string()) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.array(entryish).map((list) => JSON.stringify(list)),
        ),
        (text) => {
          try {
            const entries = parseTrustList(text);
            new TrustedRegistries(entries);
          } catch (error) {
            assert.ok(error instanceof SwarmError && error.code === 'invalid_request', String(error));
          }
        },
      ),
    );
  });

  it('a replacement is checked whole before the table changes, and listeners hear of each change', () => {
    const table = new TrustedRegistries([{ authority: 'a.example', baseUrl: 'https://a.example', publicKey: key }]);
    let heard = 0;
    const stop = table.onChange(() => heard++);
    assert.throws(() =>
      table.replace([
        { authority: 'b.example', baseUrl: 'https://b.example', publicKey: key },
        { authority: 'c.example', baseUrl: 'https://c.example', publicKey: 'bad' },
      ]),
    );
    assert.deepEqual(
      table.list().map((e) => e.authority),
      ['a.example'],
    );
    assert.equal(heard, 0);
    table.replace([{ authority: 'b.example', baseUrl: 'https://b.example', publicKey: key }]);
    assert.equal(heard, 1);
    stop();
    table.replace([]);
    assert.equal(heard, 1);
    assert.equal(TrustedRegistries.of(table), table);
  });
});

describe('verifyAppExport: any input', () => {
  it('answers a document or invalid_request / invalid_signature / unsupported_version, never another error (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.record({ version: fc.constantFrom('1.0', '2.0'), data: fc.jsonValue(), signature: fc.string() })),
        (input) => {
          try {
            verifyAppExport(input, key);
            assert.fail('nothing random verifies');
          } catch (error) {
            assert.ok(
              error instanceof SwarmError && ['invalid_request', 'invalid_signature', 'unsupported_version'].includes(error.code),
              String(error),
            );
          }
        },
      ),
    );
  });
});
