import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  generateSigningKey,
  MemoryReplayStore,
  newNonce,
  nonceScopes,
  nowSeconds,
  OwnerQuery,
  type OwnerQueryData,
  type SignedCheck,
  SwarmError,
  signEnvelope,
  TokenRequest,
  verify,
  verifySigned,
} from '../src/index.js';

const owner = generateSigningKey();
const stranger = generateSigningKey();
const APP = 'local.swarm.alice.blog.abc123';

/** A signer resolver that knows one key, like a registry answering with the app's Master key. */
function signerOf(publicKey: string, seen: string[] = []) {
  return async (data: unknown, signature: string, purpose: Parameters<typeof verify>[0]) => {
    seen.push('signer');
    if (!verify(purpose, data, signature, publicKey)) throw new SwarmError('invalid_signature', 'not the owner');
    return { publicKey };
  };
}

function query(fields: Partial<OwnerQueryData> = {}, key = owner) {
  return signEnvelope(
    'owner_query',
    { app_id: APP, audience: 'https://billing.example', timestamp: nowSeconds(), nonce: newNonce(), ...fields },
    key.privateKey,
  );
}

function check(replay = new MemoryReplayStore(), seen: string[] = []): SignedCheck<typeof OwnerQuery, { publicKey: string }> {
  return { purpose: 'owner_query', freshnessSeconds: 300, replay, signer: signerOf(owner.publicKey, seen) };
}

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error instanceof SwarmError ? error.code : `threw ${String(error)}`;
  }
};

describe('verifySigned: the one check of signed requests', () => {
  it('returns the data, the signer and what `expect` found', async () => {
    const body = query();
    const result = await verifySigned(OwnerQuery, body, { ...check(), expect: (data) => data.app_id.length });
    assert.deepEqual(result.data, body.data);
    assert.equal(result.signer.publicKey, owner.publicKey);
    assert.equal(result.expected, APP.length);
  });

  it('checks in SPEC order: body, version, expect, timestamp, signature, nonce', async () => {
    const stale = query({ timestamp: nowSeconds() - 1000 });
    assert.equal(await codeOf(verifySigned(OwnerQuery, { ...stale, extra: 1 }, check())), 'invalid_request');
    assert.equal(await codeOf(verifySigned(OwnerQuery, { ...stale, version: '2.0' }, check())), 'unsupported_version');
    const refuse = () => {
      throw new SwarmError('wrong_provider', 'no');
    };
    assert.equal(await codeOf(verifySigned(OwnerQuery, stale, { ...check(), expect: refuse })), 'wrong_provider');
    assert.equal(await codeOf(verifySigned(OwnerQuery, query({ timestamp: nowSeconds() - 1000 }, stranger), check())), 'stale_timestamp');
    assert.equal(await codeOf(verifySigned(OwnerQuery, query({}, stranger), check())), 'invalid_signature');
  });

  it('never asks for the signer of a stale message', async () => {
    const seen: string[] = [];
    await codeOf(verifySigned(OwnerQuery, query({ timestamp: nowSeconds() + 1000 }), check(new MemoryReplayStore(), seen)));
    assert.deepEqual(seen, []);
  });

  it('consumes a nonce only after the signature verified, so a forger cannot burn it', async () => {
    const replay = new MemoryReplayStore();
    const nonce = newNonce();
    const forged = query({ nonce }, stranger);
    assert.equal(await codeOf(verifySigned(OwnerQuery, forged, check(replay))), 'invalid_signature');
    assert.equal(replay.size, 0);
    assert.equal(await codeOf(verifySigned(OwnerQuery, query({ nonce }), check(replay))), 'ok');
    assert.equal(await codeOf(verifySigned(OwnerQuery, query({ nonce }), check(replay))), 'nonce_reused');
  });

  it('consumes a nonce once per signing key, whatever the purpose (SPEC §3)', async () => {
    const replay = new MemoryReplayStore();
    const nonce = newNonce();
    assert.equal(await codeOf(verifySigned(OwnerQuery, query({ nonce }), check(replay))), 'ok');
    const token = signEnvelope('token_request', { app_id: APP, sub: 'a', timestamp: nowSeconds(), nonce }, owner.privateKey);
    const tokenCheck = { purpose: 'token_request' as const, freshnessSeconds: 300, replay, signer: signerOf(owner.publicKey) };
    assert.equal(await codeOf(verifySigned(TokenRequest, token, tokenCheck)), 'nonce_reused');
    assert.equal(await replay.unique(nonceScopes.signer(owner.publicKey), nonce, nowSeconds() + 10), false);
  });

  it('answers every malformed body with a SwarmError and consumes nothing (property)', async () => {
    const replay = new MemoryReplayStore();
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (body) => {
        const code = await codeOf(verifySigned(OwnerQuery, body, check(replay)));
        assert.ok(['invalid_request', 'unsupported_version'].includes(code), code);
      }),
      { numRuns: 300 },
    );
    assert.equal(replay.size, 0);
  });

  it('refuses any change to signed data (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('debug', 'info', 'warn', 'error', 'fatal') as fc.Arbitrary<'info'>, async (level) => {
        const body = query();
        const changed = { ...body, data: { ...body.data, level } };
        assert.equal(await codeOf(verifySigned(OwnerQuery, changed, check())), 'invalid_signature');
      }),
      { numRuns: 20 },
    );
  });
});
