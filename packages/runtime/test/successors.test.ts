import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  canonicalDigest,
  generateSigningKey,
  MemoryReplayStore,
  newNonce,
  nowSeconds,
  type SigningKey,
  SwarmError,
  sign,
  signEnvelope,
  TrustedRegistries,
  type TrustedRegistry,
} from '@swarm/protocol';
import fc from 'fast-check';
import {
  AppRegistries,
  dropPostgresSchema,
  ensurePostgresSchema,
  MAX_REGISTRY_HOPS,
  openDatabase,
  RegistryClient,
  verifyBroadcast,
} from '../src/index.js';

const postgresUrl = process.env.SWARM_TEST_POSTGRES_URL;

const APP = 'local.swarm.alice.shop.abcdef';
const DIGEST = 'A'.repeat(43);

interface Peer {
  authority: string;
  key: SigningKey;
  entry: TrustedRegistry;
}

const peer = (authority: string): Peer => {
  const key = generateSigningKey();
  return { authority, key, entry: { authority, baseUrl: `http://127.0.0.1:9/${authority}`, publicKey: key.publicKey } };
};

/** The signed successor `from` issues for the app, naming `to` (as the registry's release does). */
const successorOf = (from: Peer, to: string, appId = APP) =>
  signEnvelope(
    'migration_successor',
    {
      app_id: appId,
      previous_registry: from.authority,
      successor: to,
      successor_url: 'http://127.0.0.1:9/next',
      released_at: nowSeconds(),
      proof_digest: DIGEST,
      audit_head: { seq: 3, hash: 'a'.repeat(64) },
    },
    from.key.privateKey,
  );

const rejects = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (error: unknown) => error instanceof SwarmError && error.code === code);

describe('following a migrated app (RegistryClient successors)', () => {
  const source = peer('swarm.local');
  const target = peer('swarm.other');
  const third = peer('swarm.third');
  const stranger = peer('swarm.stranger');

  it('follows a successor signed by the current registry to a trusted target, and only once', async () => {
    const client = new RegistryClient(new TrustedRegistries([source.entry, target.entry]));
    const heard: string[] = [];
    client.onFollow((appId, registry) => heard.push(`${appId}→${registry.authority}`));
    assert.equal(client.registryFor(APP).authority, 'swarm.local');
    const followed = await client.follow(APP, successorOf(source, 'swarm.other'));
    assert.equal(followed.changed, true);
    assert.equal(client.registryFor(APP).authority, 'swarm.other');
    assert.equal(client.registryFor(APP).baseUrl, target.entry.baseUrl, "the trust table's URL, never the successor's claim");
    const again = await client.follow(APP, successorOf(source, 'swarm.other'));
    assert.equal(again.changed, false, 'a repeat (a retried broadcast, a 410 from the old registry) changes nothing');
    assert.deepEqual(heard, [`${APP}→swarm.other`]);
    assert.equal(client.registryFor('local.swarm.bob.blog.abcdef').authority, 'swarm.local', 'other apps stay');
  });

  it('refuses an untrusted successor with unknown_registry, and keeps the app where it was', async () => {
    const client = new RegistryClient(new TrustedRegistries([source.entry]));
    await rejects(client.follow(APP, successorOf(source, 'swarm.other')), 'unknown_registry');
    assert.equal(client.registryFor(APP).authority, 'swarm.local');
  });

  it('refuses a successor signed by another key, by the target itself, or issued by a registry not holding the app', async () => {
    const client = new RegistryClient(new TrustedRegistries([source.entry, target.entry, third.entry]));
    const forged = {
      ...successorOf(source, 'swarm.other'),
      signature: sign('migration_successor', successorOf(source, 'swarm.other').data, stranger.key.privateKey),
    };
    await rejects(client.follow(APP, forged), 'invalid_signature');
    const selfIssued = signEnvelope('migration_successor', { ...successorOf(source, 'swarm.other').data }, target.key.privateKey);
    await rejects(client.follow(APP, selfIssued), 'invalid_signature');
    await rejects(client.follow(APP, successorOf(target, 'swarm.third')), 'invalid_request');
    const otherPurpose = { ...successorOf(source, 'swarm.other') };
    otherPurpose.signature = sign('broadcast', otherPurpose.data, source.key.privateKey);
    await rejects(client.follow(APP, otherPurpose), 'invalid_signature');
    await rejects(client.follow(APP, successorOf(source, 'swarm.other', 'local.swarm.bob.blog.abcdef')), 'invalid_request');
    assert.equal(client.registryFor(APP).authority, 'swarm.local');
  });

  it(`follows a chain of hops, at most ${MAX_REGISTRY_HOPS}`, async () => {
    const hops = [source, target, third, peer('swarm.fourth'), peer('swarm.fifth')];
    const client = new RegistryClient(new TrustedRegistries(hops.map((hop) => hop.entry)));
    for (let i = 0; i < MAX_REGISTRY_HOPS; i++) await client.follow(APP, successorOf(hops[i] as Peer, (hops[i + 1] as Peer).authority));
    assert.equal(client.registryFor(APP).authority, 'swarm.fourth');
    await rejects(client.follow(APP, successorOf(hops[3] as Peer, 'swarm.fifth')), 'invalid_request');
    assert.equal(client.registryFor(APP).authority, 'swarm.fourth');
  });

  it('keeps followed apps across a restart, and drops a chain whose registry is no longer trusted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'successors-'));
    try {
      const database = openDatabase<unknown>({ file: join(dir, 'part.db') });
      const trusted = new TrustedRegistries([source.entry, target.entry]);
      const first = new RegistryClient(trusted, { successors: await AppRegistries.open(database.db) });
      await first.follow(APP, successorOf(source, 'swarm.other'));
      const second = new RegistryClient(trusted, { successors: await AppRegistries.open(database.db) });
      assert.equal(second.registryFor(APP).authority, 'swarm.local', 'not read yet');
      await second.load();
      assert.equal(second.registryFor(APP).authority, 'swarm.other');
      const rekeyed = new TrustedRegistries([{ ...source.entry, publicKey: stranger.key.publicKey }, target.entry]);
      const third = new RegistryClient(rekeyed, { successors: await AppRegistries.open(database.db) });
      await third.load();
      assert.equal(third.registryFor(APP).authority, 'swarm.local', 'a chain that no longer verifies is not followed');
      await database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never follows a mutated successor (property)', async () => {
    const good = successorOf(source, 'swarm.other');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('app_id', 'previous_registry', 'successor', 'successor_url', 'released_at', 'proof_digest', 'audit_head'),
        fc.jsonValue(),
        async (field, value) => {
          const client = new RegistryClient(new TrustedRegistries([source.entry, target.entry, third.entry]));
          const mutated = { ...good, data: { ...good.data, [field]: value } };
          if (JSON.stringify(mutated.data) === JSON.stringify(good.data)) return;
          await assert.rejects(client.follow(APP, mutated), (error: unknown) => error instanceof SwarmError);
          assert.equal(client.registryFor(APP).authority, 'swarm.local');
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('a 410 app_migrated from the registry is followed, then asked again at the successor', () => {
  const source = peer('swarm.local');
  const target = peer('swarm.other');
  const master = generateSigningKey();
  const hits: string[] = [];
  let sourceServer: Server;
  let targetServer: Server;
  const url = (server: Server) => `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const listen = (server: Server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));

  before(async () => {
    // Two small peers answering as the two registries do after a release: S a signed tombstone, T the record.
    sourceServer = createServer((request, response) => {
      hits.push(`S ${request.url}`);
      response.writeHead(410, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'app_migrated', message: 'moved' }, successor: successorOf(source, 'swarm.other') }));
    });
    targetServer = createServer((request, response) => {
      hits.push(`T ${request.url}`);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ app_id: APP, namespace: 'alice', public_key: master.publicKey, status: 'active' }));
    });
    await Promise.all([listen(sourceServer), listen(targetServer)]);
  });
  after(() => {
    sourceServer.close();
    targetServer.close();
  });

  it('the Master key is fetched from the target after the source answered 410', async () => {
    const client = new RegistryClient(
      new TrustedRegistries([
        { ...source.entry, baseUrl: url(sourceServer) },
        { ...target.entry, baseUrl: url(targetServer) },
      ]),
    );
    const record = await client.masterKey(APP);
    assert.equal(record.public_key, master.publicKey);
    assert.equal(client.registryFor(APP).authority, 'swarm.other');
    assert.deepEqual(
      hits.map((hit) => hit.split(' ')[0]),
      ['S', 'T'],
    );
  });

  it('a part that does not trust the target stops at unknown_registry and asks the target nothing', async () => {
    hits.length = 0;
    const client = new RegistryClient(new TrustedRegistries([{ ...source.entry, baseUrl: url(sourceServer) }]));
    await rejects(client.masterKey(APP), 'unknown_registry');
    assert.deepEqual(
      hits.map((hit) => hit.split(' ')[0]),
      ['S'],
    );
    assert.equal(client.registryFor(APP).authority, 'swarm.local');
  });
});

describe('broadcasts after a followed migration', () => {
  const source = peer('swarm.local');
  const target = peer('swarm.other');
  const broadcast = (from: Peer, fields: Record<string, unknown>) =>
    signEnvelope(
      'broadcast',
      { origin: from.authority, app_id: APP, timestamp: nowSeconds(), nonce: newNonce(), ...fields },
      from.key.privateKey,
    );

  it('the new registry speaks for the app; the old one only to repeat the move', async () => {
    const client = new RegistryClient(new TrustedRegistries([source.entry, target.entry]));
    const replay = new MemoryReplayStore();
    const moved = broadcast(source, { event: 'APP_MIGRATED', successor: successorOf(source, 'swarm.other') });
    await rejects(verifyBroadcast(client, broadcast(target, { event: 'BACKBONE_UPDATE', config_epoch: 9 }), replay), 'forbidden');
    const event = await verifyBroadcast(client, moved, replay);
    assert.equal(event?.event, 'APP_MIGRATED');
    if (event?.event === 'APP_MIGRATED') await client.follow(event.app_id, event.successor);
    assert.equal(
      (await verifyBroadcast(client, broadcast(target, { event: 'BACKBONE_UPDATE', config_epoch: 9 }), replay))?.origin,
      'swarm.other',
    );
    await rejects(
      verifyBroadcast(client, broadcast(source, { event: 'SERVICE_REVOKED', service_id: 'cms-article-abcdefghij' }), replay),
      'forbidden',
    );
    const repeat = broadcast(source, { event: 'APP_MIGRATED', successor: successorOf(source, 'swarm.other') });
    assert.equal((await verifyBroadcast(client, repeat, replay))?.event, 'APP_MIGRATED', 'a retried move is still heard');
  });
});

describe('followed apps kept in PostgreSQL', { skip: postgresUrl ? false : 'SWARM_TEST_POSTGRES_URL is not set' }, () => {
  const schema = `t_successors_${newNonce()
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 12)}`;
  after(async () => {
    if (postgresUrl) await dropPostgresSchema(postgresUrl, schema);
  });

  it('a follow is kept, replaced by the next hop, and read back by a new client', async () => {
    await ensurePostgresSchema(postgresUrl as string, schema);
    const database = openDatabase<unknown>({ url: postgresUrl, schema });
    try {
      const [source, target, third] = [peer('swarm.local'), peer('swarm.other'), peer('swarm.third')];
      const trusted = new TrustedRegistries([source.entry, target.entry, third.entry]);
      const first = new RegistryClient(trusted, { successors: await AppRegistries.open(database.db) });
      await first.follow(APP, successorOf(source, 'swarm.other'));
      await first.follow(APP, successorOf(target, 'swarm.third'));
      const second = new RegistryClient(trusted, { successors: await AppRegistries.open(database.db) });
      await second.load();
      assert.equal(second.registryFor(APP).authority, 'swarm.third');
      assert.deepEqual(second.successors.formerRegistries(APP), ['swarm.local', 'swarm.other']);
    } finally {
      await database.close();
    }
  });
});

describe('following a move T activated after its contest window (no release, no Guardian)', () => {
  const source = peer('swarm.local');
  const target = peer('swarm.other');
  const stranger = peer('swarm.stranger');
  const master = generateSigningKey();
  const guardian = generateSigningKey();
  const now = nowSeconds();
  const backbone = { config_epoch: 3, auth: null, billing_provider_url: null, logging_service_url: null, services: {} };
  const signedExport = signEnvelope(
    'export',
    {
      format: 'swarm-app-export/1',
      source: { authority: source.authority, public_key: source.key.publicKey },
      exported_at: now,
      app_id: APP,
      namespace: 'alice',
      master_public_key: master.publicKey,
      guardian_public_keys: [guardian.publicKey],
      former_master_public_keys: [],
      app: {
        app_id: APP,
        owner_namespace: 'alice',
        project_slug: 'shop',
        display_name: 'Shop',
        status: 'active',
        created_at: now,
        ...backbone,
      },
      operational_context: {
        app_id: APP,
        issued_at: now,
        ...backbone,
        registry: { authority: source.authority, public_key: source.key.publicKey },
      },
      config_epoch: 3,
      bindings: [],
      providers: [],
      audit_head: { seq: 4, hash: 'c'.repeat(64) },
    },
    source.key.privateKey,
  );
  const proofData = (fields: Record<string, unknown> = {}) => ({
    app_id: APP,
    context: 'registry_migration',
    previous_registry: source.authority,
    target_registry: target.authority,
    migration_timestamp: now,
    timestamp: now,
    nonce: newNonce(),
    export_digest: canonicalDigest(signedExport),
    active_bindings: [],
    master_public_key: master.publicKey,
    guardian_public_keys: [guardian.publicKey],
    ...fields,
  });
  const proof = signEnvelope('registry_migration', proofData(), master.privateKey);
  const activationData = (fields: Record<string, unknown> = {}) => ({
    app_id: APP,
    previous_registry: source.authority,
    registry: target.authority,
    path: 'contest',
    prepared_at: now - 10,
    contest_ends_at: now - 5,
    activated_at: now - 5,
    proof_digest: canonicalDigest(proof),
    ...fields,
  });
  const activationBy = (by: Peer, fields: Record<string, unknown> = {}) =>
    signEnvelope('migration_activation', activationData(fields), by.key.privateKey);
  const evidence = { export: signedExport, proof, activation: activationBy(target) };
  const trusted = () => new TrustedRegistries([source.entry, target.entry, stranger.entry]);

  it('is followed offline (T is not asked), kept, and verified again at load', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'contest-'));
    try {
      const database = openDatabase<unknown>({ file: join(dir, 'part.db') });
      const first = new RegistryClient(trusted(), { successors: await AppRegistries.open(database.db) });
      const followed = await first.followApproved(APP, evidence);
      assert.deepEqual([followed.changed, first.registryFor(APP).authority], [true, 'swarm.other']);
      const again = await first.followApproved(APP, evidence);
      assert.equal(again.changed, false, 'a repeated delivery changes nothing');
      const second = new RegistryClient(trusted(), { successors: await AppRegistries.open(database.db) });
      await second.load();
      assert.equal(second.registryFor(APP).authority, 'swarm.other', 'the link re-verifies at load');
      const withoutTarget = new RegistryClient(new TrustedRegistries([source.entry]), {
        successors: await AppRegistries.open(database.db),
      });
      await withoutTarget.load();
      assert.equal(withoutTarget.registryFor(APP).authority, 'swarm.local', 'T no longer trusted: the kept link is dropped');
      await database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a forged activation, one by another registry, a guardian-path one, an early one, another proof’s', async () => {
    const otherProof = signEnvelope('registry_migration', proofData(), master.privateKey);
    const forged = { ...activationBy(target), signature: sign('migration_activation', activationData(), stranger.key.privateKey) };
    const cases: Array<[string, unknown, string]> = [
      ['a forged signature', { ...evidence, activation: forged }, 'invalid_signature'],
      ['signed by another (trusted) registry', { ...evidence, activation: activationBy(stranger) }, 'invalid_signature'],
      [
        'another registry named, signed by it',
        { ...evidence, activation: activationBy(stranger, { registry: stranger.authority }) },
        'invalid_signature',
      ],
      ['T naming another registry', { ...evidence, activation: activationBy(target, { registry: stranger.authority }) }, 'invalid_request'],
      [
        'path guardian, no approval',
        { ...evidence, activation: activationBy(target, { path: 'guardian', contest_ends_at: null }) },
        'invalid_request',
      ],
      ['path release', { ...evidence, activation: activationBy(target, { path: 'release' }) }, 'invalid_request'],
      [
        'activated before the window ended',
        { ...evidence, activation: activationBy(target, { activated_at: now - 6 }) },
        'invalid_request',
      ],
      [
        'another proof’s digest',
        { ...evidence, activation: activationBy(target, { proof_digest: canonicalDigest(otherProof) }) },
        'invalid_request',
      ],
      ['another app', { ...evidence, activation: activationBy(target, { app_id: 'local.swarm.bob.blog.abcdef' }) }, 'invalid_request'],
      ['another source', { ...evidence, activation: activationBy(target, { previous_registry: stranger.authority }) }, 'invalid_request'],
      [
        'an activation and an approval',
        {
          ...evidence,
          guardian_approval: { public_key: guardian.publicKey, signature: sign('registry_migration', proof.data, guardian.privateKey) },
        },
        'invalid_request',
      ],
      ['neither', { export: signedExport, proof }, 'invalid_request'],
      ['another proof than the activation names', { ...evidence, proof: otherProof }, 'invalid_request'],
    ];
    for (const [what, body, code] of cases) {
      const client = new RegistryClient(trusted());
      await assert.rejects(client.followApproved(APP, body), (error: unknown) => error instanceof SwarmError && error.code === code, what);
      assert.equal(client.registryFor(APP).authority, 'swarm.local', what);
    }
    const untrustedTarget = new RegistryClient(new TrustedRegistries([source.entry]));
    await rejects(untrustedTarget.followApproved(APP, evidence), 'unknown_registry');
  });

  it('never follows tampered evidence (property)', async () => {
    const parts = {
      activation: evidence.activation.data as Record<string, unknown>,
      proof: proof.data as Record<string, unknown>,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('activation', 'proof'),
        fc.constantFrom(...new Set([...Object.keys(parts.activation), ...Object.keys(parts.proof)])),
        fc.oneof(fc.jsonValue(), fc.integer(), fc.constantFrom('contest', 'guardian', target.authority, source.authority)),
        async (which, field, value) => {
          const original = parts[which];
          if (!(field in original)) return;
          const data = { ...original, [field]: value };
          if (JSON.stringify(data) === JSON.stringify(original)) return;
          const envelope = which === 'activation' ? evidence.activation : proof;
          const tampered = { ...evidence, [which]: { ...envelope, data } };
          const client = new RegistryClient(trusted());
          await assert.rejects(client.followApproved(APP, tampered), (error: unknown) => error instanceof SwarmError);
          assert.equal(client.registryFor(APP).authority, 'swarm.local');
        },
      ),
      { numRuns: 150 },
    );
  });
});
