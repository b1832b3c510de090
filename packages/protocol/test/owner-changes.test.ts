import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AppUpdate, GuardianChange, generateSigningKey, parseMessage, SwarmError, sign, signEnvelope, verify } from '../src/index.js';

const master = generateSigningKey();
const guardian = generateSigningKey();
const appId = 'local.swarm.alice.blog.k3j9x0d2ab';

const appUpdate = signEnvelope(
  'app_update',
  { app_id: appId, display_name: 'Blog ✓', timestamp: 1_700_000_000, nonce: 'abcdefgh', context: 'app_update' },
  master.privateKey,
);
const changeData = {
  namespace: 'alice',
  guardian_public_keys: [guardian.publicKey],
  timestamp: 1_700_000_000,
  nonce: 'abcdefgh',
  context: 'guardian_change',
};
const guardianChange = {
  ...signEnvelope('guardian_change', changeData, master.privateKey),
  guardian_approval: { public_key: guardian.publicKey, signature: sign('guardian_change', changeData, guardian.privateKey) },
};

describe('apps and namespaces change: strict shapes and purposes of their own', () => {
  it('takes the well-formed messages and refuses an empty app change', () => {
    assert.equal(parseMessage(AppUpdate, appUpdate).data.display_name, 'Blog ✓');
    assert.equal(parseMessage(GuardianChange, guardianChange).guardian_approval.public_key, guardian.publicKey);
    const { display_name: _name, ...empty } = appUpdate.data;
    assert.throws(() => parseMessage(AppUpdate, { ...appUpdate, data: empty }), /display_name and\/or description/);
    assert.equal(parseMessage(AppUpdate, { ...appUpdate, data: { ...empty, description: null } }).data.description, null);
  });

  it('answers any field replaced by any JSON value with invalid_request or the valid message, never another error', () => {
    const samples = [
      [AppUpdate, appUpdate],
      [GuardianChange, guardianChange],
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1),
        fc.boolean(),
        fc.string({ maxLength: 20 }),
        fc.jsonValue({ maxDepth: 2 }),
        (which, inData, field, value) => {
          const [schema, sample] = samples[which] as (typeof samples)[number];
          const body = inData
            ? { ...sample, data: { ...(sample.data as Record<string, unknown>), [field]: value } }
            : { ...sample, [field]: value };
          try {
            parseMessage(schema, body);
          } catch (error) {
            assert.ok(error instanceof SwarmError, String(error));
            assert.ok(error.code === 'invalid_request' || error.code === 'unsupported_version', error.code);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never verifies an app_update or guardian_change signature under another owner purpose', () => {
    const purposes = [
      'app_update',
      'guardian_change',
      'app_retirement',
      'identity_recovery',
      'master_key_rotation',
      'registry_migration',
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...purposes), fc.constantFrom(...purposes), (signedAs, checkedAs) => {
        const signature = sign(signedAs, changeData, guardian.privateKey);
        assert.equal(verify(checkedAs, changeData, signature, guardian.publicKey), signedAs === checkedAs);
      }),
      { numRuns: 60 },
    );
  });
});
