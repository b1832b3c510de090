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
        resolve({ child, summary: JSON.parse(stdout) });
      } catch {}
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => reject(new Error(`swarm ${args.join(' ')} exited ${code}: ${stderr}`)));
  });
}

function stop(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return Promise.resolve();
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
  });

  it('stops on SIGTERM', async () => {
    await stop(service);
    assert.equal(service.child.exitCode, 0);
  });
});
