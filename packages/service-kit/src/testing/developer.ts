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
import { postJson } from '@swarm/runtime';
import { SignJWT } from 'jose';

/**
 * A developer for tests and benchmarks: a namespace with its Master key, one app, and an Auth
 * key delegated to it, with which it signs its own user tokens (SPEC §4, §8).
 */
export interface TestDeveloper {
  registryUrl: string;
  namespace: string;
  /** Replace after a Master key rotation; requests are signed with whatever is here. */
  master: SigningKey;
  appId: string;
  authKey: SigningKey;
  authKid: string;
  issuer: string;
  provisionRequest(provider: string, fields?: Partial<ProvisionData>): Envelope<ProvisionData>;
  terminationRequest(serviceId: string, dataHandling: 'wipe' | 'retain'): Envelope<Record<string, unknown>>;
  token(options?: {
    sub?: string;
    roles?: string[];
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

export async function createTestDeveloper(
  registryUrl: string,
  options: { namespace?: string; slug?: string; master?: SigningKey } = {},
): Promise<TestDeveloper> {
  const master = options.master ?? generateSigningKey();
  const guardian = generateSigningKey();
  const namespace =
    options.namespace ??
    `dev-${newNonce()
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 12)}`;
  await expectStatus(
    `${registryUrl}/v1/namespaces`,
    signEnvelope(
      'namespace',
      {
        public_key: master.publicKey,
        guardian_public_keys: [guardian.publicKey],
        namespace_claim: namespace,
        contact_email: `${namespace}@example.com`,
        timestamp: nowSeconds(),
        nonce: newNonce(),
      },
      master.privateKey,
    ),
    201,
  );
  const app = await expectStatus(
    `${registryUrl}/v1/apps`,
    signEnvelope(
      'app',
      {
        owner_namespace: namespace,
        project_slug: options.slug ?? 'business_app',
        display_name: 'Business app',
        timestamp: nowSeconds(),
        nonce: newNonce(),
      },
      master.privateKey,
    ),
    201,
  );
  const appId = app.app_id as string;
  const issuer = `http://127.0.0.1:9/apps/${appId}`;

  const delegate = async (key: SigningKey) => {
    await expectStatus(
      `${registryUrl}/v1/apps/${appId}/auth`,
      signEnvelope(
        'delegate_authority',
        {
          action: 'DELEGATE_AUTHORITY' as const,
          app_id: appId,
          auth_public_key: key.publicKey,
          auth_provider_url: issuer,
          retire_previous_after: 0,
          timestamp: nowSeconds(),
          nonce: newNonce(),
        },
        developer.master.privateKey,
      ),
      200,
    );
  };
  const developer: TestDeveloper = {
    registryUrl,
    namespace,
    master,
    appId,
    authKey: generateSigningKey(),
    authKid: '',
    issuer,
    provisionRequest(provider, fields = {}) {
      const data: ProvisionData = {
        app_id: appId,
        target_provider: provider,
        service_tier: 'free',
        region: 'local',
        timestamp: nowSeconds(),
        nonce: newNonce(),
        ...fields,
      };
      return signEnvelope('provision', data, developer.master.privateKey);
    },
    terminationRequest(serviceId, dataHandling) {
      const data = {
        app_id: appId,
        service_id: serviceId,
        timestamp: nowSeconds(),
        nonce: newNonce(),
        context: 'permanent_termination',
        data_handling: dataHandling,
      };
      return signEnvelope('permanent_termination', data, developer.master.privateKey);
    },
    async token(options = {}) {
      const key = options.key ?? developer.authKey;
      const now = nowSeconds();
      return new SignJWT({ roles: options.roles ?? ['user'] })
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
  await delegate(developer.authKey);
  developer.authKid = jwkThumbprint(developer.authKey.publicKey);
  return developer;
}
