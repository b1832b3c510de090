import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BindingRequest,
  Broadcast,
  Decommission,
  generateSigningKey,
  HttpUrl,
  NamespaceClaim,
  ProvisionRequest,
  parseMessage,
  SwarmError,
  signEnvelope,
  UsageReport,
} from '../src/index.js';

const key = generateSigningKey();
const provision = signEnvelope(
  'provision',
  {
    app_id: 'org.omiappreg.alice.business_app.7f8a9d',
    target_provider: 'article.cms.io',
    service_tier: 'pro_cluster',
    region: 'eu-central-1',
    storage_limit_gb: 50,
    timestamp: 1705412600,
    nonce: 'z3x9v2n8',
  },
  key.privateKey,
);

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (error) {
    assert.ok(error instanceof SwarmError, `threw ${String(error)}`);
    return error.code;
  }
}

describe('message schemas', () => {
  it('accepts the SPEC §5.1 request', () => {
    assert.deepEqual(parseMessage(ProvisionRequest, provision), provision);
  });

  it('refuses unknown fields, wrong types and missing fields with invalid_request', () => {
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, extra: 1 })),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, data: { ...provision.data, admin: true } })),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, data: { ...provision.data, timestamp: '1' } })),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, data: { ...provision.data, timestamp: 1.5 } })),
      'invalid_request',
    );
    const { nonce: _dropped, ...withoutNonce } = provision.data;
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, data: withoutNonce })),
      'invalid_request',
    );
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, signature: 'AB'.repeat(64) })),
      'invalid_request',
    );
  });

  it('judges a URL the same each time it is seen (the judgement is kept by its text)', () => {
    const cases: Array<[string, boolean]> = [
      ['https://auth.example/v1', true],
      ['http://127.0.0.1:8080/x', true],
      ['javascript:alert(1)', false],
      ['ftp://files.example/', false],
      ['http://user:pw@host.example/', false],
      ['not a url', false],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [url, ok] of cases) assert.equal(HttpUrl.safeParse(url).success, ok, `${url} (round ${round})`);
    }
  });

  it('checks the version after the body rules', () => {
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, version: '2.0' })),
      'unsupported_version',
    );
    assert.equal(
      codeOf(() => parseMessage(ProvisionRequest, { ...provision, version: '2.0', extra: 1 })),
      'invalid_request',
    );
  });

  it('throws only SwarmError for arbitrary and mutated input', () => {
    const schemas = [ProvisionRequest, NamespaceClaim, BindingRequest, Broadcast, Decommission, UsageReport];
    fc.assert(
      fc.property(fc.constantFrom(...schemas), fc.anything(), (schema, value) => {
        codeOf(() => parseMessage(schema, value));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(provision.data)), fc.anything(), (field, value) => {
        codeOf(() => parseMessage(ProvisionRequest, { ...provision, data: { ...provision.data, [field]: value } }));
      }),
      { numRuns: 1000 },
    );
  });
});
