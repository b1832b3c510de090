import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSigningKey } from '@swarm/protocol';
import { catalog, claimNamespace, provision, provisionAuth, registerApp, userToken } from '../src/index.js';
import { articles } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

interface Server {
  child: ChildProcess;
  summary: Record<string, unknown>;
  /** What the part wrote to stderr so far. */
  stderr(): string;
}

/** Starts `swarm <args> --json` and waits for the summary it prints once it listens. */
function startServer(args: string[], cwd: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json', '--log-level', 'silent'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      try {
        resolve({ child, summary: JSON.parse(stdout), stderr: () => stderr });
      } catch {}
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => reject(new Error(`swarm ${args.join(' ')} exited ${code}: ${stderr}`)));
  });
}

function stop(server: Server | undefined): Promise<void> {
  // A child that died by a signal has a null exitCode: waiting for its 'exit' again would hang.
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A base port with the two after it free too: the backbone takes three in a row. */
async function threeFreePorts(): Promise<number> {
  for (let base = 20_000 + Math.floor(Math.random() * 20_000); ; base += 3) {
    if ((await canListen(base)) && (await canListen(base + 1)) && (await canListen(base + 2))) return base;
  }
}

describe('each part run alone: swarm registry, swarm backbone, swarm service', () => {
  let dir: string;
  let registry: Server;
  let backbone: Server;
  let service: Server;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-standalone-'));
    const base = await threeFreePorts();
    registry = await startServer(
      [
        'registry',
        '--port',
        '0',
        '--dns-port',
        'off',
        '--data',
        'registry',
        '--billing-url',
        `http://127.0.0.1:${base + 1}`,
        '--logging-url',
        `http://127.0.0.1:${base + 2}`,
        // The auth provider an app delegates to, and the providers' events URLs, are on loopback too.
        '--allow-egress',
        '127.0.0.0/8',
      ],
      dir,
    );
    const registryUrl = registry.summary.url as string;
    const tokenFile = registry.summary.admin_token_file as string;
    backbone = await startServer(
      ['backbone', '--port', String(base), '--registry', registryUrl, '--admin-token-file', tokenFile, '--data', 'backbone'],
      dir,
    );
    // The backbone learns the registry from its well-known document; the service is pinned with --trust.
    const trustFile = join(dir, 'trust.json');
    const pinned = [{ authority: registry.summary.authority, baseUrl: registryUrl, publicKey: registry.summary.public_key }];
    await writeFile(trustFile, JSON.stringify(pinned));
    service = await startServer(
      [
        ...['service', 'cms-article', '--port', '0', '--trust', trustFile, '--admin-token-file', tokenFile, '--data', 'cms'],
        ...['--allow-egress', '127.0.0.0/8'],
      ],
      dir,
    );
  });
  after(async () => {
    await stop(service);
    await stop(backbone);
    await stop(registry);
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the admin token owner-only and puts both offers in the catalog', async () => {
    const tokenFile = join(dir, 'registry', 'admin-token');
    assert.ok((await readFile(tokenFile, 'utf8')).trim().length > 20);
    assert.equal((await stat(tokenFile)).mode & 0o777, 0o600);
    const client = { registry: registry.summary.url as string };
    const types = (await catalog(client)).map((offer) => offer.service_type).sort();
    assert.deepEqual(types, ['auth', 'cms-article']);
  });

  let endpoint: string;
  let editorToken: string;

  it('serves an app end to end across the separate processes', async () => {
    const client = { registry: registry.summary.url as string };
    const master = generateSigningKey();
    await claimNamespace(client, { namespace: 'solo', master, guardianPublicKeys: [generateSigningKey().publicKey] });
    const { app_id: appId } = await registerApp(client, { namespace: 'solo', slug: 'site', master });
    await provisionAuth(client, { appId, master });
    const instance = await provision(client, { appId, serviceType: 'cms-article', master, tier: 'pro_cluster', region: 'eu-central-1' });
    assert.equal(instance.storage_limit_gb, 10);
    const { access_token } = await userToken(client, { appId, sub: 'editor', master });
    const created = await articles(instance.endpoint_url!, access_token, {
      method: 'POST',
      body: { title: 'Alone', body: 'but together' },
    });
    assert.equal(created.status, 201);
    endpoint = instance.endpoint_url!;
    editorToken = access_token;
  });

  it('follows its --trust file while it runs: a typo is reported and ignored, a dropped registry is refused, a restored one served', async () => {
    const trustFile = join(dir, 'trust.json');
    const pinned = await readFile(trustFile, 'utf8');
    const read = async () => (await articles(endpoint, editorToken)).status;
    const until = async (check: () => boolean | Promise<boolean>) => {
      for (let i = 0; i < 150 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(await check(), `service stderr: ${service.stderr()}`);
    };
    assert.equal(await read(), 200);
    await writeFile(trustFile, '[{"authority":');
    await until(() => /not reloaded, the trust table is unchanged/.test(service.stderr()));
    assert.equal(await read(), 200, 'a file that does not parse changes nothing');
    await writeFile(trustFile, '[]');
    await until(async () => (await read()) === 401);
    await writeFile(trustFile, pinned);
    await until(async () => (await read()) === 200);
    assert.match(service.stderr(), /reloaded: /);
  });

  it('stops on SIGTERM', async () => {
    await stop(service);
    assert.equal(service.child.exitCode, 0);
  });
});

describe('a standalone part pins the registry it trusts', () => {
  let dir: string;
  let registry: Server;
  let other: Server;
  const running: Server[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swarm-pin-'));
    const registryArgs = (data: string) => ['registry', '--port', '0', '--dns-port', 'off', '--data', data];
    registry = await startServer(registryArgs('registry'), dir);
    // Another registry with its own key, as an attacker on the path (or a rebuilt registry) would present.
    other = await startServer(registryArgs('other'), dir);
  });
  after(async () => {
    for (const server of running) await stop(server);
    await stop(other);
    await stop(registry);
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `swarm service cms-article` against `registryUrl` until it listens or exits; stops it if it listened. */
  async function serviceStart(registryUrl: string, extra: string[] = []): Promise<{ started: boolean; error: string }> {
    const args = ['service', 'cms-article', '--port', '0', '--registry', registryUrl, '--data', 'cms', ...extra];
    try {
      const server = await startServer(args, dir);
      running.push(server);
      await stop(server);
      // With --json a refusal is printed as a JSON error before the process exits.
      const error = server.summary.error as { code: string; message: string } | undefined;
      return error ? { started: false, error: `${error.code}: ${error.message}` } : { started: true, error: '' };
    } catch (error) {
      return { started: false, error: (error as Error).message };
    }
  }

  it('pins the key at the first start and refuses another key later unless --registry-key names it', async () => {
    const url = registry.summary.url as string;
    assert.equal((await serviceStart(url)).started, true);
    const pin = JSON.parse(await readFile(join(dir, 'cms', 'registry-trust.json'), 'utf8'));
    assert.deepEqual(pin, [{ authority: registry.summary.authority, baseUrl: url, publicKey: registry.summary.public_key }]);
    assert.equal((await stat(join(dir, 'cms', 'registry-trust.json'))).mode & 0o777, 0o600);
    assert.equal((await serviceStart(url)).started, true, 'the same key starts again');

    // The same data folder pointed at a registry with another key: refused, and the pin is kept.
    const otherUrl = other.summary.url as string;
    const refused = await serviceStart(otherUrl);
    assert.equal(refused.started, false);
    assert.match(refused.error, /unknown_registry|pins/);
    assert.match(refused.error, new RegExp(String(other.summary.public_key).replace(/[+/]/g, '\\$&')));
    assert.equal(JSON.parse(await readFile(join(dir, 'cms', 'registry-trust.json'), 'utf8'))[0].publicKey, registry.summary.public_key);

    // A --registry-key that is not the key presented is refused too.
    const wrong = await serviceStart(otherUrl, ['--registry-key', registry.summary.public_key as string]);
    assert.equal(wrong.started, false);

    // The operator checked the new key and says so: it starts and the pin follows.
    assert.equal((await serviceStart(otherUrl, ['--registry-key', other.summary.public_key as string])).started, true);
    assert.equal(JSON.parse(await readFile(join(dir, 'cms', 'registry-trust.json'), 'utf8'))[0].publicKey, other.summary.public_key);
  });

  it('refuses a plain-http registry that is not on this machine unless --insecure is given', async () => {
    // 192.0.2.1 (TEST-NET-1) is never reached: the refusal comes before any request.
    const refused = await serviceStart('http://192.0.2.1:7400', ['--data', 'remote']);
    assert.equal(refused.started, false);
    assert.match(refused.error, /not https and not on this machine/);
    const trustFile = join(dir, 'remote-trust.json');
    const entry = { authority: registry.summary.authority, baseUrl: 'http://192.0.2.1:7400', publicKey: registry.summary.public_key };
    await writeFile(trustFile, JSON.stringify([entry]));
    const viaTrust = await serviceStart('http://127.0.0.1:1', ['--trust', trustFile, '--data', 'remote']);
    assert.match(viaTrust.error, /not https and not on this machine/);
    // With --insecure the check is skipped and the part starts (the registry itself is not reached at start with --trust).
    assert.equal((await serviceStart('http://127.0.0.1:1', ['--trust', trustFile, '--data', 'remote', '--insecure'])).started, true);
  });
});

const redisUrl = process.env.SWARM_TEST_REDIS_URL;

describe('swarm registry --redis-url', { skip: redisUrl ? false : 'SWARM_TEST_REDIS_URL is not set' }, () => {
  it('takes Redis for nonces and last beats, and names it among its readiness checks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swarm-registry-redis-'));
    let registry: Server | undefined;
    try {
      registry = await startServer(
        ['registry', '--port', '0', '--dns-port', 'off', '--data', 'registry', '--redis-url', redisUrl ?? ''],
        dir,
      );
      const ready = await fetch(`${registry.summary.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(((await ready.json()) as { checks: Record<string, string> }).checks, { database: 'ok', redis: 'ok' });
    } finally {
      await stop(registry);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
