import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DataPageAnswer,
  generateSigningKey,
  type InstanceMoveData,
  InstanceMoveRequest,
  moveIdOf,
  parseAnswer,
  parseMessage,
  SwarmError,
  signEnvelope,
  TransferPageRequest,
  verify,
} from '../src/index.js';

const master = generateSigningKey();
const provider = generateSigningKey();
const appId = 'local.swarm.alice.blog.k3j9x0d2ab';
const move: InstanceMoveData = {
  app_id: appId,
  service_id: 'cms-article-aaaaaaaaaa',
  source_provider: 'article.cms.local',
  target_provider: 'article2.cms.local',
  new_service_id: 'cms-article-bbbbbbbbbb',
  timestamp: 1_700_000_000,
  nonce: 'abcdefgh',
  context: 'instance_move',
};
const ownerRequest = signEnvelope('instance_move', move, master.privateKey);
const pageRequest = signEnvelope(
  'transfer_page',
  {
    move_id: moveIdOf(move),
    provider: 'article2.cms.local',
    authorization: { payload: move, signature: ownerRequest.signature },
    cursor: null,
    timestamp: 1_700_000_001,
    nonce: 'ijklmnop',
  },
  provider.privateKey,
);
const anyJson = fc.jsonValue({ maxDepth: 2 });
const refusedAsInput = (error: unknown) =>
  error instanceof SwarmError && (error.code === 'invalid_request' || error.code === 'unsupported_version');

describe('instance_move and transfer_page: strict shapes and purposes of their own', () => {
  it('takes the well-formed messages', () => {
    assert.equal(parseMessage(InstanceMoveRequest, ownerRequest).data.new_service_id, 'cms-article-bbbbbbbbbb');
    assert.equal(parseMessage(TransferPageRequest, pageRequest).data.cursor, null);
  });

  it('any field replaced by any JSON value is either still well formed or invalid_request, never another failure', () => {
    const fields = Object.keys(move);
    fc.assert(
      fc.property(fc.constantFrom(...fields), anyJson, (field, value) => {
        const body = { ...ownerRequest, data: { ...ownerRequest.data, [field]: value } };
        try {
          parseMessage(InstanceMoveRequest, body);
        } catch (error) {
          assert.ok(refusedAsInput(error), String(error));
        }
        const page = {
          ...pageRequest,
          data: { ...pageRequest.data, authorization: { ...pageRequest.data.authorization, payload: body.data } },
        };
        try {
          parseMessage(TransferPageRequest, page);
        } catch (error) {
          assert.ok(refusedAsInput(error), String(error));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses unknown fields anywhere (strict)', () => {
    assert.throws(() => parseMessage(InstanceMoveRequest, { ...ownerRequest, data: { ...move, extra: 1 } }), refusedAsInput);
    const authorization = { ...pageRequest.data.authorization, payload: { ...move, extra: 1 } };
    assert.throws(
      () => parseMessage(TransferPageRequest, { ...pageRequest, data: { ...pageRequest.data, authorization } }),
      refusedAsInput,
    );
  });

  it('a signature for one purpose never verifies for another', () => {
    assert.ok(verify('instance_move', move, ownerRequest.signature, master.publicKey));
    for (const other of ['instance_update', 'provision', 'permanent_termination', 'transfer_page'] as const) {
      assert.equal(verify(other, move, ownerRequest.signature, master.publicKey), false, other);
    }
    assert.equal(verify('instance_move', pageRequest.data, pageRequest.signature, provider.publicKey), false);
  });

  it('the move id is the same for the same payload and another for any change', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), fc.integer({ min: 0, max: 2 ** 40 }), (nonce, timestamp) => {
        const changed = { ...move, nonce, timestamp };
        assert.equal(moveIdOf(changed), moveIdOf({ ...changed }));
        assert.match(moveIdOf(changed), /^[0-9a-f]{32}$/);
        if (nonce !== move.nonce || timestamp !== move.timestamp) assert.notEqual(moveIdOf(changed), moveIdOf(move));
      }),
      { numRuns: 200 },
    );
  });

  it('reads a data page, and refuses another format by the name of the peer', () => {
    const page = {
      format: 'swarm-data/1',
      service_type: 'cms-article',
      service_id: 'cms-article-aaaaaaaaaa',
      items: [],
      next_cursor: null,
    };
    assert.equal(parseAnswer(DataPageAnswer, page, 'provider x').format, 'swarm-data/1');
    assert.throws(
      () => parseAnswer(DataPageAnswer, { ...page, format: 'swarm-data/2' }, 'provider x'),
      (error: SwarmError) => error.code === 'registry_unavailable' && error.message.includes('provider x'),
    );
  });
});
