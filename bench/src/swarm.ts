import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { claimNamespace, type LocalSwarm, provision, provisionAuth, registerApp, userToken } from '@swarm/client';
import { generateSigningKey, type SigningKey } from '@swarm/protocol';

export interface SwarmUnderTest {
  urls: LocalSwarm['urls'];
  registry: LocalSwarm['registry'];
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a local swarm in a child process on free ports under a temp folder. */
export async function startSwarmProcess(): Promise<SwarmUnderTest> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swarm-bench-'));
  const script = fileURLToPath(new URL('./swarm-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`swarm process exited with ${code}`)));
  });
  const { urls, registry } = JSON.parse(line) as Pick<SwarmUnderTest, 'urls' | 'registry'>;
  return {
    urls,
    registry,
    child,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface DeveloperApp {
  master: SigningKey;
  appId: string;
}

/** A namespace and an app with its Auth Provider delegated, as the README quickstart makes. */
export async function developerApp(registryUrl: string, name: string): Promise<DeveloperApp> {
  const options = { registry: registryUrl };
  const master = generateSigningKey();
  await claimNamespace(options, { namespace: name, master, guardianPublicKeys: [generateSigningKey().publicKey] });
  const { app_id: appId } = await registerApp(options, { namespace: name, slug: 'bench', master });
  await provisionAuth(options, { appId, master });
  return { master, appId };
}

/** An active cms-article instance and a user token for it. */
export async function articleInstance(registryUrl: string, app: DeveloperApp): Promise<{ endpointUrl: string; token: string }> {
  const options = { registry: registryUrl };
  const instance = await provision(options, {
    appId: app.appId,
    serviceType: 'cms-article',
    master: app.master,
    tier: 'free',
    region: 'local',
  });
  const { access_token } = await userToken(options, { appId: app.appId, sub: 'bench-user', master: app.master, roles: ['user'] });
  return { endpointUrl: instance.endpoint_url as string, token: access_token };
}
