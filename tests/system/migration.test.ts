import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { approve, continuityProof, exportApp, prepareMigration, usage } from '@swarm/client';
import {
  callApi,
  createTestDeveloper,
  type DomainPart,
  eventually,
  provisionInstance,
  SWARM_BIN,
  type TestDeveloper,
  TestNetwork,
  tempDir,
  trustedRegistryOf,
} from '@swarm/dev-env';
import {
  appDnsZone,
  generateSigningKey,
  migratedZone,
  privateKeyToPem,
  SwarmError,
  signEnvelope,
  TrustedRegistries,
} from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS, postJson, RegistryClient } from '@swarm/runtime';
import { queryDns } from './dns.js';

const OTHER = 'swarm.other';
const DOMAINS: Array<{ part: DomainPart; list: string }> = [
  { part: 'cms-article', list: 'articles' },
  { part: 'crm-contact', list: 'contacts' },
  { part: 'storage-blob', list: 'objects' },
];

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> & { error?: { code: string } };
}

/** `swarm <args> --json` as a user runs it. */
function swarm(args: string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SWARM_BIN, ...args, '--json'], { cwd, timeout: 90_000 }, (error, stdout, stderr) => {
      let json = {};
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, json });
    });
  });
}

/** Whether `dig` is installed (the DNAME check uses a stock resolver tool). */
function hasDig(): Promise<boolean> {
  return new Promise((resolve) => execFile('dig', ['-v'], (error) => resolve(!error)));
}

/**
 * Issue 13, black-box: an app with three bound instances under steady user traffic moves from
 * the local registry S to another registry T through `swarm migrate`; not one user request
 * fails, the instances re-bind and beat at T, T's Service DNS lists them, the audit chain
 * verifies across both, a part that does not trust T refuses to follow, and with S gone a
 * Guardian co-signature completes a move from a saved export.
 */
for (const heartbeats of ['batch', 'instance'] as const) {
  describe(`an app moves to another registry and its swarm follows (${heartbeats} heartbeats)`, () => {
    const dir = tempDir('migration');
    const networkOptions = {
      dataDir: join(dir.path, 'source'),
      heartbeatIntervalSeconds: 1,
      registry: { broadcastRetry: { initialMs: 100, maxMs: 1000 } },
      services: { heartbeats },
    };
    let network: TestNetwork;
    let target: RegistryHandle;
    let developer: TestDeveloper;
    const endpoints: Array<{ part: DomainPart; url: string; serviceId: string }> = [];

    before(async () => {
      network = await TestNetwork.create(networkOptions);
      target = await startRegistry({
        authority: OTHER,
        dataDir: join(dir.path, 'target'),
        dnsPort: 0,
        heartbeatIntervalSeconds: 1,
        defaultBillingUrl: network.billing.url,
        defaultLoggingUrl: network.logging.url,
        egress: { allow: LOOPBACK_CIDRS },
        logLevel: false,
        trust: [network.trusted],
      });
      // Each registry trusts the other; every part of the swarm trusts T from now on (live).
      network.registry.trust.add(trustedRegistryOf(target));
      network.trust.add(trustedRegistryOf(target));
      developer = await createTestDeveloper(network.registry.url);
      writeFileSync(join(dir.path, 'master.pem'), privateKeyToPem(developer.master.privateKey), { mode: 0o600 });
      for (const { part } of DOMAINS) {
        const service = network.services[part];
        assert.ok(service);
        const instance = await provisionInstance(service, developer);
        endpoints.push({ part, url: instance.endpoint_url, serviceId: instance.service_id });
      }
    });
    after(async () => {
      await target?.close();
      await network?.close();
      dir.remove();
    });

    it('moves with zero failed user requests; the instances re-bind, beat and are listed at T', { timeout: 60_000 }, async () => {
      const token = await developer.token({ expiresIn: 3600 });
      const outcome = { ok: 0, failed: [] as string[] };
      let running = true;
      // Steady traffic: each instance asked in turn, one request after the other, until the move is done.
      const traffic = (async () => {
        for (let round = 0; running; round++) {
          await Promise.all(
            DOMAINS.map(async ({ list }, i) => {
              const endpoint = endpoints[i];
              if (!endpoint) return;
              const write = list === 'articles' && round % 5 === 0;
              const answer = await callApi(
                `${endpoint.url}/${list}`,
                token,
                write ? { method: 'POST', json: { title: `during the move ${round}`, body: 'text' } } : {},
              ).catch((error: Error) => ({ status: 0, body: error.message }));
              if (answer.status === 200 || answer.status === 201) outcome.ok++;
              else outcome.failed.push(`${list} ${answer.status} ${JSON.stringify(answer.body)}`);
            }),
          );
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      const moved = await swarm(
        [
          'migrate',
          '--registry',
          network.registry.url,
          '--app',
          developer.appId,
          '--to',
          target.url,
          '--key',
          'master.pem',
          '--wait',
          '30',
        ],
        dir.path,
      );
      assert.equal(moved.code, 0, moved.stderr);
      assert.deepEqual(moved.json.not_rebound, []);
      assert.equal((moved.json.record as { state: string }).state, 'active');
      assert.deepEqual(
        (moved.json.steps as string[]).map((line) => line.split(':')[0]?.split(' ')[0]),
        ['export', 'prepare', 'release', 'activate', ...(moved.json.steps as string[]).slice(4).map(() => 're-bound')],
      );

      // The services beat at T: every instance healthy there, listed by T's Service DNS.
      await eventually(
        'every instance healthy at T',
        async () => {
          const { status, body } = await callApi(`${target.url}/v1/apps/${developer.appId}/services`, 'none');
          assert.equal(status, 200);
          const records = (body as { records: Array<{ service_id: string; health?: string }> }).records;
          assert.deepEqual(records.map((record) => record.service_id).sort(), endpoints.map((e) => e.serviceId).sort());
          for (const record of records) assert.equal(record.health, 'healthy', record.service_id);
          return true;
        },
        15_000,
      );
      if (target.dnsPort) {
        const zone = migratedZone(developer.appId, OTHER);
        for (const { part, serviceId } of endpoints) {
          const reply = await queryDns(target.dnsPort, `_${part}._tcp.${zone}`, 'TXT');
          const texts = (reply.answers ?? []).flatMap((answer) => ('data' in answer ? [String(answer.data)] : []));
          assert.ok(
            texts.some((text) => text.includes(serviceId)),
            `${part} is in T's Service DNS`,
          );
        }
      }

      // Requests go on after the move, served with the context T signed.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      running = false;
      await traffic;
      assert.deepEqual(outcome.failed, [], 'no user request failed');
      assert.ok(outcome.ok > 30, `steady traffic (${outcome.ok} requests)`);

      // The backbone follows too: Billing takes the instances' reports and the owner's signed
      // query, both checked at T now (S answers 410 for the app's Master key and instances).
      await network.flushReports();
      const summary = await usage({ registry: target.url }, { appId: developer.appId, master: developer.master });
      assert.deepEqual([...new Set(summary.totals.map((total) => total.service_id))].sort(), endpoints.map((e) => e.serviceId).sort());
    });

    // The rest does not depend on how instances beat: asked once.
    if (heartbeats === 'instance') return;

    it('swarm audit verify walks T’s chain into S’s', { timeout: 30_000 }, async () => {
      const verified = await swarm(
        ['audit', 'verify', developer.appId, '--registry', target.url, '--previous', network.registry.url],
        dir.path,
      );
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.equal(verified.json.ok, true);
      assert.equal((verified.json.previous as { ok: boolean }).ok, true);
      const alone = await swarm(['audit', 'verify', developer.appId, '--registry', target.url], dir.path);
      assert.notEqual(alone.code, 0, 'a chain that continues elsewhere is not called verified without it');
    });

    it('a second run of swarm migrate (a retry) finds the move done and changes nothing', { timeout: 30_000 }, async () => {
      const again = await swarm(
        [
          'migrate',
          '--registry',
          network.registry.url,
          '--app',
          developer.appId,
          '--to',
          target.url,
          '--key',
          'master.pem',
          '--wait',
          '10',
        ],
        dir.path,
      );
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.deepEqual(again.json.not_rebound, []);
      assert.equal((again.json.record as { state: string }).state, 'active');
    });

    it('after a restart of the whole swarm the services still serve and beat at T', { timeout: 60_000 }, async () => {
      await network.close();
      network = await TestNetwork.create({ ...networkOptions, trust: [trustedRegistryOf(target)] });
      network.registry.trust.add(trustedRegistryOf(target));
      const token = await developer.token();
      for (const [i, { list }] of DOMAINS.entries()) {
        const answer = await callApi(`${endpoints[i]?.url}/${list}`, token);
        assert.equal(answer.status, 200, list);
      }
      // A beat from after the restart (the second after now).
      const since = Math.floor(Date.now() / 1000) + 1;
      await eventually(
        'beats at T after the restart',
        async () => {
          const { body } = await callApi(`${target.url}/v1/apps/${developer.appId}/services`, 'none');
          const records = (body as { records: Array<{ last_heartbeat_at?: number }> }).records;
          return records.length === 3 && records.every((record) => (record.last_heartbeat_at ?? 0) >= since) ? true : undefined;
        },
        20_000,
      );
    });

    it('a part whose trust table lacks T does not follow: unknown_registry, nothing asked of T', async () => {
      let askedTarget = 0;
      // The swarm beats at T meanwhile: only a lookup of this app's Master key would be this part's.
      target.app.server.on('request', (request: { url?: string }) => {
        if (request.url?.includes('/master-key')) askedTarget++;
      });
      const untrusting = new RegistryClient(new TrustedRegistries([network.trusted]));
      await assert.rejects(
        untrusting.masterKey(developer.appId),
        (error: unknown) => error instanceof SwarmError && error.code === 'unknown_registry',
      );
      assert.equal(untrusting.registryFor(developer.appId).authority, network.registry.authority);
      assert.equal(askedTarget, 0);
    });

    it('evidence of a move that does not prove it is refused with the code, and nothing is followed', { timeout: 30_000 }, async () => {
      const third = await createTestDeveloper(network.registry.url);
      const guardian = third.guardians[0];
      assert.ok(guardian);
      const { signed } = await exportApp({ registry: network.registry.url }, third.appId);
      const proof = continuityProof(signed, OTHER, third.master);
      const good = { export: signed, proof, guardian_approval: approve(proof.data, guardian) };
      const stranger = generateSigningKey();
      const post = async (body: unknown) => {
        const { status, body: answer } = await postJson(`${network.billing.url}/v1/events/migration`, body);
        return `${status} ${(answer as { error?: { code?: string } } | null)?.error?.code ?? ''}`.trim();
      };
      const changedGuardians = signEnvelope(
        'registry_migration',
        { ...proof.data, guardian_public_keys: [stranger.publicKey] },
        third.master.privateKey,
      );
      const forgedExport = { ...signed, data: { ...signed.data, master_public_key: stranger.publicKey } };
      const elsewhere = continuityProof(signed, 'swarm.nowhere', third.master);
      const cases: Array<[string, unknown, string]> = [
        ['no Guardian approval', { export: signed, proof }, '400 invalid_request'],
        ['a key outside the Guardian set', { ...good, guardian_approval: approve(proof.data, stranger) }, '401 invalid_signature'],
        [
          'a proof the Master key did not sign',
          { ...good, proof: signEnvelope('registry_migration', proof.data, stranger.privateKey) },
          '401 invalid_signature',
        ],
        ['an export S did not sign', { ...good, export: forgedExport }, '401 invalid_signature'],
        [
          'a changed Guardian set',
          { ...good, proof: changedGuardians, guardian_approval: approve(changedGuardians.data, guardian) },
          '400 invalid_request',
        ],
        [
          'an untrusted target',
          { ...good, proof: elsewhere, guardian_approval: approve(elsewhere.data, guardian) },
          '404 unknown_registry',
        ],
        ['a move T never prepared', good, '409 conflict'],
      ];
      for (const [what, body, expected] of cases) assert.equal(await post(body), expected, what);
      const { status } = await callApi(`${network.registry.url}/v1/apps/${third.appId}`, 'none');
      assert.equal(status, 200, 'the app is still held at S');
    });

    it('swarm migrate status, veto and abort speak to T before activation', { timeout: 30_000 }, async () => {
      const prepared = async () => {
        const owner = await createTestDeveloper(network.registry.url);
        const { signed } = await exportApp({ registry: network.registry.url }, owner.appId);
        await prepareMigration({ registry: target.url }, owner.appId, signed, continuityProof(signed, OTHER, owner.master));
        const name = owner.appId.split('.').at(-1) as string;
        writeFileSync(join(dir.path, `master-${name}.pem`), privateKeyToPem(owner.master.privateKey), { mode: 0o600 });
        writeFileSync(join(dir.path, `guardian-${name}.pem`), privateKeyToPem((owner.guardians[0] ?? owner.master).privateKey), {
          mode: 0o600,
        });
        return { appId: owner.appId, name };
      };
      const [vetoed, aborted] = await Promise.all([prepared(), prepared()]);
      const status = await swarm(['migrate', 'status', '--registry', target.url, '--app', vetoed.appId], dir.path);
      assert.equal(status.json.state, 'importing', status.stderr);
      const veto = await swarm(
        ['migrate', 'veto', '--registry', target.url, '--app', vetoed.appId, '--guardian', `guardian-${vetoed.name}.pem`],
        dir.path,
      );
      assert.equal(veto.json.state, 'vetoed', veto.stderr);
      const strangerVeto = await swarm(
        ['migrate', 'veto', '--registry', target.url, '--app', aborted.appId, '--guardian', `master-${aborted.name}.pem`],
        dir.path,
      );
      assert.equal(strangerVeto.json.error?.code, 'invalid_signature', 'a key outside the Guardian set cannot veto');
      const abort = await swarm(
        ['migrate', 'abort', '--registry', target.url, '--app', aborted.appId, '--key', `master-${aborted.name}.pem`],
        dir.path,
      );
      assert.equal(abort.code, 0, abort.stderr);
      assert.equal(abort.json.state, 'aborted');
    });

    it('S answers the old zone with a DNAME to the new one', { timeout: 15_000 }, async (t) => {
      const dnsPort = network.registry.dnsPort;
      if (!(await hasDig())) return t.skip('dig is not installed');
      if (!dnsPort) return t.skip('the source serves no DNS');
      const oldZone = appDnsZone(developer.appId);
      const dig = (name: string, type: string) =>
        new Promise<string>((resolve) =>
          execFile('dig', ['+noall', '+answer', '+time=2', '+tries=1', '-p', String(dnsPort), '@127.0.0.1', name, type], (_e, out) =>
            resolve(out),
          ),
        );
      const below = await dig(`_cms-article._tcp.${oldZone}`, 'SRV');
      assert.match(below, new RegExp(`DNAME\\s+${migratedZone(developer.appId, OTHER).replace(/\./g, '\\.')}\\.?`), below);
      assert.match(await dig(oldZone, 'TXT'), /successor=swarm\.other/);
    });

    it('with S gone, a Guardian co-signature completes the move from a saved export; the swarm follows on the evidence', {
      timeout: 60_000,
    }, async () => {
      const second = await createTestDeveloper(network.registry.url);
      const contacts = network.services['crm-contact'];
      assert.ok(contacts);
      const instance = await provisionInstance(contacts, second);
      writeFileSync(join(dir.path, 'master-2.pem'), privateKeyToPem(second.master.privateKey), { mode: 0o600 });
      writeFileSync(join(dir.path, 'guardian-2.pem'), privateKeyToPem((second.guardians[0] ?? second.master).privateKey), { mode: 0o600 });
      const saved = await swarm(['export', '--registry', network.registry.url, '--app', second.appId, '--out', 'export-2.json'], dir.path);
      assert.equal(saved.code, 0, saved.stderr);
      await network.registry.close();
      const moved = await swarm(
        [
          ...['migrate', '--registry', network.registry.url, '--app', second.appId, '--to', target.url],
          ...['--key', 'master-2.pem', '--guardian', 'guardian-2.pem', '--export', 'export-2.json', '--wait', '20'],
        ],
        dir.path,
      );
      assert.equal(moved.code, 0, moved.stdout + moved.stderr);
      const record = moved.json.record as { state: string; path: string };
      assert.deepEqual([record.state, record.path], ['active', 'guardian']);
      const steps = moved.json.steps as string[];
      assert.ok(steps.some((line) => line.startsWith('release: skipped')));
      assert.ok(steps.some((line) => line.startsWith('notify: ')));
      assert.deepEqual(moved.json.not_rebound, [], 'the instance re-bound at T on the evidence alone');
      const answer = await callApi(`${instance.endpoint_url}/contacts`, await second.token());
      assert.equal(answer.status, 200);
      await eventually(
        'the instance healthy at T',
        async () => {
          const { body } = await callApi(`${target.url}/v1/apps/${second.appId}/services`, 'none');
          const records = (body as { records?: Array<{ service_id: string; health?: string }> }).records ?? [];
          return records.find((r) => r.service_id === instance.service_id && r.health === 'healthy');
        },
        15_000,
      );
      // Billing followed on the same evidence: the owner's signed query is checked at T, S being gone.
      const summary = await usage({ registry: target.url }, { appId: second.appId, master: second.master });
      assert.equal(summary.app_id, second.appId);
    });
  });
}

/*
 * SPIFFE's rule from the other side: S trusts T and releases the app to it, but the swarm's own
 * trust table lacks T. The service refuses S's successor (the broadcast and the 410 alike), never
 * contacts T, keeps serving the app's users with the context it holds, and its instance stays
 * `imported` at T, which the CLI reports.
 */
describe('a swarm whose trust table lacks the target does not follow', () => {
  const dir = tempDir('migration-untrusted');
  let network: TestNetwork;
  let target: RegistryHandle;
  let developer: TestDeveloper;
  let endpoint: { url: string; serviceId: string };
  let askedTarget = 0;

  before(async () => {
    network = await TestNetwork.create({
      dataDir: join(dir.path, 'source'),
      heartbeatIntervalSeconds: 1,
      registry: { broadcastRetry: { initialMs: 100, maxMs: 1000 } },
    });
    target = await startRegistry({
      authority: OTHER,
      dataDir: join(dir.path, 'target'),
      dnsPort: false,
      heartbeatIntervalSeconds: 1,
      egress: { allow: LOOPBACK_CIDRS },
      logLevel: false,
      trust: [network.trusted],
    });
    network.registry.trust.add(trustedRegistryOf(target));
    target.app.server.on('request', (request: { url?: string }) => {
      if (request.url?.includes('/services/') || request.url?.includes('/providers/')) askedTarget++;
    });
    developer = await createTestDeveloper(network.registry.url);
    writeFileSync(join(dir.path, 'master.pem'), privateKeyToPem(developer.master.privateKey), { mode: 0o600 });
    const service = network.services['cms-article'];
    assert.ok(service);
    const instance = await provisionInstance(service, developer);
    endpoint = { url: instance.endpoint_url, serviceId: instance.service_id };
  });
  after(async () => {
    await target?.close();
    await network?.close();
    dir.remove();
  });

  it('the move completes at T, the service refuses to follow and keeps serving; the CLI names the instance', {
    timeout: 45_000,
  }, async () => {
    const moved = await swarm(
      ['migrate', '--registry', network.registry.url, '--app', developer.appId, '--to', target.url, '--key', 'master.pem', '--wait', '4'],
      dir.path,
    );
    assert.notEqual(moved.code, 0, 'an instance did not re-bind');
    assert.equal((moved.json.record as { state: string }).state, 'active');
    assert.deepEqual(moved.json.not_rebound, [endpoint.serviceId]);
    // S's broadcast of the move was refused by the service: unknown_registry (404), not taken.
    const refused = await eventually('the refused APP_MIGRATED delivery', async () => {
      for (const state of ['dead', 'pending'] as const) {
        const { body } = await callApi(`${network.registry.url}/v1/apps/${developer.appId}/broadcasts?state=${state}`, 'none');
        const rows = (body as { broadcasts?: Array<{ url: string; event: unknown; last_error: string | null }> }).broadcasts ?? [];
        const row = rows.find((r) => r.event === 'APP_MIGRATED' && r.url.startsWith(network.urls['cms-article']) && r.last_error);
        if (row) return row;
      }
      return undefined;
    });
    assert.match(refused.last_error ?? '', /404|unknown_registry/);
    const answer = await callApi(`${endpoint.url}/articles`, await developer.token());
    assert.equal(answer.status, 200, 'users are still served with the context the service holds');
    assert.equal(askedTarget, 0, 'the service never spoke to T');
  });

  it('once the operator trusts T, the service follows on the next beat (410 app_migrated) and re-binds there', {
    timeout: 30_000,
  }, async () => {
    // The broadcast was refused for good; S's answer to the beat carries the successor again.
    network.trust.add(trustedRegistryOf(target));
    await eventually(
      'the instance re-bound at T',
      async () => {
        const { body } = await callApi(`${target.url}/v1/apps/${developer.appId}/migration`, 'none');
        const instances = (body as { instances?: Array<{ service_id: string; state: string }> }).instances ?? [];
        return instances.find((i) => i.service_id === endpoint.serviceId && i.state === 'rebound');
      },
      20_000,
    );
    const answer = await callApi(`${endpoint.url}/articles`, await developer.token());
    assert.equal(answer.status, 200);
  });
});
