import { type ClientOptions, claimNamespace, consoleSource, provision, provisionAuth, registerApp, userToken } from '@swarm/client';
import { TestNetwork } from '@swarm/dev-env';
import { generateSigningKey, type SigningKey } from '@swarm/protocol';
import { type ConsoleHandle, type ConsoleSource, startConsole } from '../src/index.js';

export interface ConsoleFixture {
  swarm: TestNetwork;
  client: ClientOptions;
  master: SigningKey;
  appId: string;
  console: ConsoleHandle;
  /** One request as a user of the app and one with a forged token: usage and a log line. */
  traffic(endpointUrl: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A whole local swarm with one app of three instances (cms-article, crm-contact, storage-blob),
 * and a console over it signing with the app's Master key.
 */
export async function startFixture(wrap: (source: ConsoleSource) => ConsoleSource = (s) => s): Promise<ConsoleFixture> {
  const swarm = await TestNetwork.create({});
  try {
    const client = { registry: swarm.registry.url };
    const master = generateSigningKey();
    await claimNamespace(client, { namespace: 'owner', master, guardianPublicKeys: [generateSigningKey().publicKey] });
    const { app_id: appId } = await registerApp(client, { namespace: 'owner', slug: 'shop', master, displayName: 'Shop' });
    await provisionAuth(client, { appId, master });
    for (const serviceType of ['cms-article', 'crm-contact', 'storage-blob']) {
      await provision(client, { appId, serviceType, master, tier: 'free', region: 'local' });
    }
    const console = await startConsole({ source: wrap(consoleSource(client, master)), apps: [appId], pollMs: 250 });
    return {
      swarm,
      client,
      master,
      appId,
      console,
      async traffic(endpointUrl) {
        const { access_token } = await userToken(client, { appId, sub: 'reader', master, roles: ['editor'] });
        await fetch(`${endpointUrl}/articles`, { headers: { authorization: `Bearer ${access_token}` } }).then((r) => r.text());
        await fetch(`${endpointUrl}/articles`, { headers: { authorization: 'Bearer forged.token.value' } }).then((r) => r.text());
        await swarm.flushReports();
      },
      async close() {
        await console.close();
        await swarm.close();
      },
    };
  } catch (error) {
    await swarm.close();
    throw error;
  }
}
