import { claimNamespace, provision, provisionAuth, registerApp, userToken } from '@swarm/client';
import { type NetworkSummary, type Part, spawnScript, stop } from '@swarm/dev-env';
import { generateSigningKey, type SigningKey } from '@swarm/protocol';

export interface SwarmUnderTest extends NetworkSummary {
  part: Part<NetworkSummary>;
  stop(): Promise<void>;
}

/** Starts a network in a child process on free ports under a temp folder it removes on close. */
export async function startSwarmProcess(): Promise<SwarmUnderTest> {
  const part = await spawnScript<NetworkSummary>('swarm', new URL('./swarm-process.ts', import.meta.url).pathname, [], {
    stderr: 'inherit',
  });
  return { ...part.ready, part, stop: () => stop(part) };
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
  const { access_token } = await userToken(options, { appId: app.appId, sub: 'bench-user', master: app.master, roles: ['editor'] });
  return { endpointUrl: instance.endpoint_url as string, token: access_token };
}
