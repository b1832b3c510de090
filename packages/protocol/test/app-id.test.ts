import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { appDnsZone, formatAppId, parseAppId, registryAuthority, SwarmError, TrustedRegistries } from '../src/index.js';

const label = (chars: string, min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: min, maxLength: max });
const lower = 'abcdefghijklmnopqrstuvwxyz';
const appIdParts = fc.record({
  tld: label(lower, 2, 63),
  registry: label(`${lower}0123456789-`, 1, 63),
  namespace: label(`${lower}0123456789_-`, 1, 63),
  projectSlug: label(`${lower}0123456789_-`, 1, 63),
  hash: label(`${lower}0123456789`, 6, 32),
});

describe('app_id', () => {
  it('parses the SPEC example into its labels, authority and zone', () => {
    const id = parseAppId('org.omiappreg.alice.business_app.7f8a9d');
    assert.deepEqual(id, { tld: 'org', registry: 'omiappreg', namespace: 'alice', projectSlug: 'business_app', hash: '7f8a9d' });
    assert.equal(registryAuthority(id), 'omiappreg.org');
    assert.equal(appDnsZone(id), '7f8a9d.business_app.alice.omiappreg.org.');
  });

  it('round-trips every well-formed app_id', () => {
    fc.assert(
      fc.property(appIdParts, (parts) => {
        assert.deepEqual(parseAppId(formatAppId(parts)), { ...parts });
      }),
      { numRuns: 500 },
    );
  });

  it('refuses malformed ids with invalid_app_id and nothing else', () => {
    for (const bad of [
      'org.omiappreg.alice.business_app',
      'ORG.omiappreg.alice.business_app.7f8a9d',
      'org.omiappreg.alice.business_app.7f8a9',
      'org.omi_appreg.alice.business_app.7f8a9d',
      'o.omiappreg.alice.business_app.7f8a9d',
      'org.omiappreg.alice.business_app.7f8a9d.extra',
      'org.omiappreg.al ice.business_app.7f8a9d',
      'org.omiappreg.alice.business_app.7f8a9d\n',
      '',
    ]) {
      assert.throws(
        () => parseAppId(bad),
        (e: unknown) => e instanceof SwarmError && e.code === 'invalid_app_id',
        bad,
      );
    }
    fc.assert(
      fc.property(fc.anything(), (value) => {
        try {
          parseAppId(value);
        } catch (error) {
          assert.ok(error instanceof SwarmError && error.code === 'invalid_app_id');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('finds registries only in the trusted table', () => {
    const table = new TrustedRegistries([
      { authority: 'omiappreg.org', baseUrl: 'http://127.0.0.1:7400/', publicKey: 'ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' },
    ]);
    assert.equal(table.forApp('org.omiappreg.alice.business_app.7f8a9d').baseUrl, 'http://127.0.0.1:7400');
    assert.throws(
      () => table.forApp('org.evilreg.alice.business_app.7f8a9d'),
      (e: unknown) => e instanceof SwarmError && e.code === 'unknown_registry',
    );
    assert.throws(
      () => table.forApp('nope'),
      (e: unknown) => e instanceof SwarmError && e.code === 'invalid_app_id',
    );
  });
});
