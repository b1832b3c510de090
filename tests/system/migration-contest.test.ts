import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { usage } from '@swarm/client';
import {
  callApi,
  createTestDeveloper,
  eventually,
  provisionInstance,
  SWARM_BIN,
  type TestDeveloper,
  TestNetwork,
  tempDir,
  trustedRegistryOf,
} from '@swarm/dev-env';
import { privateKeyToPem } from '@swarm/protocol';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';

const CONTEST_SECONDS = 2;

/** `swarm <args> --json` as a user runs it. */
function swarm(args: string[], cwd: string): Promise<{ code: number; stderr: string; json: Record<string, unknown> }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SWARM_BIN, ...args, '--json'], { cwd, timeout: 90_000 }, (error, stdout, stderr) => {
      let json = {};
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr: stdout + stderr, json });
    });
  });
}

/*
 * Issue 13, the contest path: the source registry is gone and no Guardian co-signs. The first
 * `swarm migrate` prepares at T and reports the contest window; a run after it activates, and the
 * parts follow on T's signed activation: the instance re-binds and beats at T, Billing checks the
 * owner there, and the app's users are served throughout.
 */
describe('a move completed by the contest window alone is followed by the swarm', () => {
  const dir = tempDir('migration-contest');
  let network: TestNetwork;
  let target: RegistryHandle;
  let developer: TestDeveloper;
  let endpoint: string;
  let serviceId: string;

  before(async () => {
    network = await TestNetwork.create({ dataDir: join(dir.path, 'source'), heartbeatIntervalSeconds: 1 });
    target = await startRegistry({
      authority: 'swarm.other',
      dataDir: join(dir.path, 'target'),
      dnsPort: false,
      heartbeatIntervalSeconds: 1,
      migrationContestSeconds: CONTEST_SECONDS,
      defaultBillingUrl: network.billing.url,
      defaultLoggingUrl: network.logging.url,
      egress: { allow: LOOPBACK_CIDRS },
      logLevel: false,
      trust: [network.trusted],
    });
    network.registry.trust.add(trustedRegistryOf(target));
    network.trust.add(trustedRegistryOf(target));
    developer = await createTestDeveloper(network.registry.url);
    writeFileSync(join(dir.path, 'master.pem'), privateKeyToPem(developer.master.privateKey), { mode: 0o600 });
  });
  after(async () => {
    await target?.close();
    await network?.close();
    dir.remove();
  });

  it('migrate → contest; after the window, migrate → active; the instance follows and beats at T', { timeout: 60_000 }, async () => {
    const contacts = network.services['crm-contact'];
    assert.ok(contacts, 'the crm-contact service runs');
    const instance = await provisionInstance(contacts, developer);
    endpoint = instance.endpoint_url;
    serviceId = instance.service_id;
    const saved = await swarm(['export', '--registry', network.registry.url, '--app', developer.appId, '--out', 'export.json'], dir.path);
    assert.equal(saved.code, 0, saved.stderr);
    await network.registry.close();

    const token = await developer.token({ expiresIn: 3600 });
    const failed: string[] = [];
    let served = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        const answer = await callApi(`${endpoint}/contacts`, token).catch((error: Error) => ({ status: 0, body: error.message }));
        if (answer.status === 200) served++;
        else failed.push(`${answer.status} ${JSON.stringify(answer.body)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const args = [
      ...['migrate', '--registry', network.registry.url, '--app', developer.appId, '--to', target.url],
      ...['--key', 'master.pem', '--export', 'export.json', '--wait', '20'],
    ];
    const first = await swarm(args, dir.path);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.json.status, 'contest');
    const endsAt = first.json.contest_ends_at as number;
    assert.ok(endsAt > 0, 'the window end is reported');
    assert.equal((first.json.record as { state: string }).state, 'importing');
    assert.ok((first.json.steps as string[]).some((line) => line.startsWith('contest: ')));

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, endsAt * 1000 - Date.now()) + 1100));
    const second = await swarm(args, dir.path);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.json.status, 'moved');
    const record = second.json.record as { state: string; path: string };
    assert.deepEqual([record.state, record.path], ['active', 'contest']);
    const steps = second.json.steps as string[];
    assert.ok(
      steps.some((line) => /^notify: [1-9]\d*\/\d+/.test(line)),
      steps.join('\n'),
    );
    assert.deepEqual(second.json.not_rebound, [], 'the instance re-bound at T on the activation');

    await eventually(
      'the instance healthy at T',
      async () => {
        const { body } = await callApi(`${target.url}/v1/apps/${developer.appId}/services`, 'none');
        const records = (body as { records?: Array<{ service_id: string; health?: string }> }).records ?? [];
        return records.find((r) => r.service_id === serviceId && r.health === 'healthy');
      },
      15_000,
    );
    // Billing followed on the same evidence: the owner's signed query is checked at T, S being gone.
    const summary = await usage({ registry: target.url }, { appId: developer.appId, master: developer.master });
    assert.equal(summary.app_id, developer.appId);

    running = false;
    await traffic;
    assert.deepEqual(failed, [], 'no user request failed');
    assert.ok(served > 5, `steady traffic (${served} requests)`);
  });
});
