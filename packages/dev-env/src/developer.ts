import {
  type Envelope,
  generateSigningKey,
  jwkThumbprint,
  newNonce,
  nowSeconds,
  type ProvisionData,
  type SigningKey,
  signEnvelope,
} from '@swarm/protocol';
import { postJson } from '@swarm/runtime/http-client';
import { SignJWT } from 'jose';
import { appManifest, type DeveloperKeys, makeDeveloper, masterSigned, namespaceClaim, provisionData } from './seed.js';

/**
 * The one test developer of unit, system and acceptance tests and benchmarks: a namespace with
 * its Master key, one app, and (unless created with `delegate: false`) an Auth key delegated to
 * it, with which it signs its own user tokens (SPEC §4, §8).
 */
export interface TestDeveloper extends DeveloperKeys {
  registryUrl: string;
  /** Replace after a Master key rotation; requests are signed with whatever is here. */
  master: SigningKey;
  appId: string;
  /** A Master-signed envelope about the app; `data` overrides or adds fields. */
  masterSigned(
    purpose: Parameters<typeof signEnvelope>[0],
    data: Record<string, unknown>,
    key?: SigningKey,
  ): Envelope<Record<string, unknown>>;
  authKey: SigningKey;
  authKid: string;
  issuer: string;
  provisionRequest(provider: string, fields?: Partial<ProvisionData>): Envelope<ProvisionData>;
  terminationRequest(serviceId: string, dataHandling: 'wipe' | 'retain'): Envelope<Record<string, unknown>>;
  token(options?: {
    sub?: string;
    roles?: string[] | null;
    expiresIn?: number;
    issuer?: string;
    audience?: string;
    key?: SigningKey;
    kid?: string;
  }): Promise<string>;
  /** Delegates a new Auth key (the previous one dropped at once) and returns it. */
  rotateAuthKey(): Promise<SigningKey>;
}

async function expectStatus(url: string, body: unknown, status: number): Promise<Record<string, unknown>> {
  const answer = await postJson(url, body);
  if (answer.status !== status) throw new Error(`${url} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as Record<string, unknown>;
}

/**
 * Claims a namespace and registers one app at `registryUrl`, then (unless `delegate: false`)
 * delegates the app's auth to a key of the developer's own, so it can sign user tokens itself.
 */
export async function createTestDeveloper(
  registryUrl: string,
  options: { namespace?: string; slug?: string; master?: SigningKey; delegate?: boolean } = {},
): Promise<TestDeveloper> {
  const keys = makeDeveloper(
    options.namespace ??
      `dev-${newNonce()
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')
        .slice(0, 12)}`,
  );
  const master = options.master ?? keys.master;
  const namespace = keys.namespace;
  const guardians = keys.guardians.slice(0, 1);
  await expectStatus(`${registryUrl}/v1/namespaces`, namespaceClaim({ namespace, master, guardians }), 201);
  const app = await expectStatus(`${registryUrl}/v1/apps`, appManifest({ namespace, master, guardians }, options.slug), 201);
  const appId = app.app_id as string;
  const issuer = `http://127.0.0.1:9/apps/${appId}`;

  const delegate = async (key: SigningKey) => {
    await expectStatus(
      `${registryUrl}/v1/apps/${appId}/auth`,
      developer.masterSigned('delegate_authority', {
        action: 'DELEGATE_AUTHORITY',
        auth_public_key: key.publicKey,
        auth_provider_url: issuer,
        retire_previous_after: 0,
      }),
      200,
    );
  };
  const developer: TestDeveloper = {
    registryUrl,
    namespace,
    master,
    guardians,
    appId,
    authKey: generateSigningKey(),
    authKid: '',
    issuer,
    masterSigned: (purpose, data, key = developer.master) => masterSigned(purpose, { master: key }, appId, data),
    provisionRequest: (provider, fields = {}) =>
      signEnvelope('provision', provisionData(appId, provider, fields), developer.master.privateKey),
    terminationRequest: (serviceId, dataHandling) =>
      developer.masterSigned('permanent_termination', {
        service_id: serviceId,
        context: 'permanent_termination',
        data_handling: dataHandling,
      }),
    async token(options = {}) {
      const key = options.key ?? developer.authKey;
      const now = nowSeconds();
      // null leaves the claim out; the default role may read and write (docs/SERVICE-KIT.md).
      return new SignJWT(options.roles === null ? {} : { roles: options.roles ?? ['editor'] })
        .setProtectedHeader({ alg: 'EdDSA', kid: options.kid ?? jwkThumbprint(key.publicKey) })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? appId)
        .setSubject(options.sub ?? 'user-1')
        .setIssuedAt(now)
        .setExpirationTime(now + (options.expiresIn ?? 600))
        .sign(key.privateKey);
    },
    async rotateAuthKey() {
      const key = generateSigningKey();
      await delegate(key);
      developer.authKey = key;
      developer.authKid = jwkThumbprint(key.publicKey);
      return key;
    },
  };
  if (options.delegate !== false) await delegate(developer.authKey);
  developer.authKid = jwkThumbprint(developer.authKey.publicKey);
  return developer;
}
