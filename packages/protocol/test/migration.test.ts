import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  canonicalDigest,
  generateSigningKey,
  type MigrationProofData,
  type MigrationSuccessorData,
  migratedZone,
  type ServiceRebindData,
  SwarmError,
  sign,
  signEnvelope,
  TrustedRegistries,
  verifyGuardianApproval,
  verifyMigrationProof,
  verifyServiceRebind,
  verifySuccessor,
} from '../src/index.js';

const master = generateSigningKey();
const guardian = generateSigningKey();
const source = generateSigningKey();
const target = generateSigningKey();
const stranger = generateSigningKey();
const appId = 'local.swarm.alice.shop.abc1234567';

const proofData: MigrationProofData = {
  app_id: appId,
  context: 'registry_migration',
  previous_registry: 'swarm.local',
  target_registry: 'swarm.other',
  migration_timestamp: 1_800_000_000,
  timestamp: 1_800_000_000,
  nonce: 'proofnonce1',
  export_digest: canonicalDigest({ any: 'export' }),
  active_bindings: [],
  master_public_key: master.publicKey,
  guardian_public_keys: [guardian.publicKey],
};

const successorData: MigrationSuccessorData = {
  app_id: appId,
  previous_registry: 'swarm.local',
  successor: 'swarm.other',
  successor_url: 'http://127.0.0.1:7500',
  released_at: 1_800_000_001,
  proof_digest: canonicalDigest({ any: 'proof' }),
  audit_head: { seq: 3, hash: 'ab'.repeat(32) },
};

const trusted = new TrustedRegistries([
  { authority: 'swarm.local', baseUrl: 'http://127.0.0.1:7400', publicKey: source.publicKey },
  { authority: 'swarm.other', baseUrl: 'http://127.0.0.1:7500', publicKey: target.publicKey },
]);

function code(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SwarmError, `a SwarmError, not ${String(error)}`);
    return error.code;
  }
  return 'accepted';
}

/** One field of `data` changed to another valid-looking value. */
function tampered<T extends Record<string, unknown>>(data: T, field: number, replacement: string | number): T {
  const keys = Object.keys(data);
  const key = keys[field % keys.length] as string;
  const current = data[key];
  const next =
    typeof current === 'number'
      ? current + 1 + (Number(replacement) || 0)
      : typeof current === 'string'
        ? `${current}x`
        : Array.isArray(current)
          ? [...current, 'x']
          : { changed: true };
  return { ...data, [key]: next };
}

describe('registry migration messages', () => {
  it('a proof verifies under the Master key it names, and only for its app', () => {
    const proof = signEnvelope('registry_migration', proofData, master.privateKey);
    assert.deepEqual(verifyMigrationProof(proof, master.publicKey, appId), proofData);
    assert.equal(
      code(() => verifyMigrationProof(proof, master.publicKey, 'local.swarm.alice.shop.other12345')),
      'invalid_request',
    );
    assert.equal(
      code(() => verifyMigrationProof(proof, stranger.publicKey, appId)),
      'invalid_signature',
    );
    const forged = signEnvelope('registry_migration', { ...proofData, master_public_key: stranger.publicKey }, stranger.privateKey);
    assert.equal(
      code(() => verifyMigrationProof(forged, master.publicKey, appId)),
      'invalid_signature',
    );
    assert.equal(
      code(() => verifyMigrationProof({ ...proof, version: '2.0' }, master.publicKey, appId)),
      'unsupported_version',
    );
  });

  it('property: any changed field of a signed proof is refused', () => {
    const proof = signEnvelope('registry_migration', proofData, master.privateKey);
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 1000 }), (field, replacement) => {
        const data = tampered(proofData, field, replacement);
        assert.notEqual(
          code(() => verifyMigrationProof({ ...proof, data }, master.publicKey, appId)),
          'accepted',
        );
      }),
      { numRuns: 200 },
    );
  });

  it('property: any input at all is a SwarmError or a verified proof, never a crash', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        assert.notEqual(
          code(() => verifyMigrationProof(value, master.publicKey, appId)),
          'accepted',
        );
        assert.notEqual(
          code(() => verifySuccessor(value, trusted, appId)),
          'accepted',
        );
      }),
      { numRuns: 300 },
    );
  });

  it('a Guardian approval is a Guardian key of the app signing the same proof data', () => {
    const approval = { public_key: guardian.publicKey, signature: sign('registry_migration', proofData, guardian.privateKey) };
    assert.equal(verifyGuardianApproval(approval, proofData, [guardian.publicKey]), guardian.publicKey);
    const outsider = { public_key: stranger.publicKey, signature: sign('registry_migration', proofData, stranger.privateKey) };
    assert.equal(
      code(() => verifyGuardianApproval(outsider, proofData, [guardian.publicKey])),
      'invalid_signature',
    );
    const otherData = {
      public_key: guardian.publicKey,
      signature: sign('registry_migration', { ...proofData, nonce: 'othernonce' }, guardian.privateKey),
    };
    assert.equal(
      code(() => verifyGuardianApproval(otherData, proofData, [guardian.publicKey])),
      'invalid_signature',
    );
    const otherPurpose = { public_key: guardian.publicKey, signature: sign('migration_veto', proofData, guardian.privateKey) };
    assert.equal(
      code(() => verifyGuardianApproval(otherPurpose, proofData, [guardian.publicKey])),
      'invalid_signature',
    );
  });

  it('a successor verifies under the issuing registry key from the reader trust table, and names a trusted registry', () => {
    const successor = signEnvelope('migration_successor', successorData, source.privateKey);
    const verified = verifySuccessor(successor, trusted, appId);
    assert.equal(verified.successor?.baseUrl, 'http://127.0.0.1:7500');
    // Signed by another key than the trusted one of swarm.local.
    assert.equal(
      code(() => verifySuccessor(signEnvelope('migration_successor', successorData, target.privateKey), trusted, appId)),
      'invalid_signature',
    );
    // The issuer is not trusted: nothing is verified against a key from the document.
    const onlyTarget = new TrustedRegistries([{ authority: 'swarm.other', baseUrl: 'http://127.0.0.1:7500', publicKey: target.publicKey }]);
    assert.equal(
      code(() => verifySuccessor(successor, onlyTarget, appId)),
      'unknown_registry',
    );
    // The successor is not trusted by the reader.
    const onlySource = new TrustedRegistries([{ authority: 'swarm.local', baseUrl: 'http://127.0.0.1:7400', publicKey: source.publicKey }]);
    assert.equal(
      code(() => verifySuccessor(successor, onlySource, appId)),
      'unknown_registry',
    );
    assert.equal(verifySuccessor(successor, onlySource, appId, { requireTrustedSuccessor: false }).successor, null);
    // Another app, another issuer than expected, a purpose mix-up.
    assert.equal(
      code(() => verifySuccessor(successor, trusted, 'local.swarm.alice.shop.zzz1234567')),
      'invalid_request',
    );
    assert.equal(
      code(() => verifySuccessor(successor, trusted, appId, { expectPrevious: 'swarm.other' })),
      'invalid_request',
    );
    assert.equal(
      code(() => verifySuccessor(signEnvelope('export', successorData, source.privateKey), trusted, appId)),
      'invalid_signature',
    );
  });

  it('property: any changed field of a signed successor is refused', () => {
    const successor = signEnvelope('migration_successor', successorData, source.privateKey);
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 1000 }), (field, replacement) => {
        const data = tampered(successorData, field, replacement);
        assert.notEqual(
          code(() => verifySuccessor({ ...successor, data }, trusted, appId)),
          'accepted',
        );
      }),
      { numRuns: 200 },
    );
  });

  it('a rebind needs both signatures over one data: the instance key and the provider key, not swapped', () => {
    const instance = generateSigningKey();
    const provider = generateSigningKey();
    const data: ServiceRebindData = {
      app_id: appId,
      service_id: 'cms-article-abc',
      provider: 'article.cms.local',
      public_key: instance.publicKey,
      endpoint_url: 'http://127.0.0.1:7410/i/cms-article-abc/api/v1',
      previous_registry: 'swarm.local',
      timestamp: 1_800_000_000,
      nonce: 'rebindnonce',
    };
    const body = {
      version: '1.0',
      data,
      instance_signature: sign('service_rebind', data, instance.privateKey),
      provider_signature: sign('service_rebind', data, provider.privateKey),
    };
    verifyServiceRebind(body, instance.publicKey, provider.publicKey);
    const swapped = { ...body, instance_signature: body.provider_signature, provider_signature: body.instance_signature };
    assert.equal(
      code(() => verifyServiceRebind(swapped, instance.publicKey, provider.publicKey)),
      'invalid_signature',
    );
    const selfOnly = { ...body, provider_signature: body.instance_signature };
    assert.equal(
      code(() => verifyServiceRebind(selfOnly, instance.publicKey, provider.publicKey)),
      'invalid_signature',
    );
  });

  it('property: the digest is of the canonical bytes, so member order does not change it', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        assert.equal(canonicalDigest(object), canonicalDigest(reversed));
        assert.match(canonicalDigest(object), /^[A-Za-z0-9_-]{43}$/);
      }),
      { numRuns: 200 },
    );
  });

  it('the moved app zone keeps the app labels under the target authority', () => {
    assert.equal(migratedZone(appId, 'swarm.other'), 'abc1234567.shop.alice.swarm.other');
  });
});
