import { type Data, type Envelope, envelope, fresh } from './envelope.js';
import { type Answer, post } from './http.js';
import { generateSigningKey, type SigningKey, signObject } from './keys.js';

/** A developer: one namespace, its Master key and Guardian keys (SPEC §1, §4.1). */
export class Developer {
  master: SigningKey = generateSigningKey();
  readonly guardians: SigningKey[] = [generateSigningKey(), generateSigningKey()];

  constructor(
    readonly registryUrl: string,
    readonly namespace: string,
  ) {}

  namespaceClaim(overrides: Data = {}): Envelope {
    const data = fresh({
      public_key: this.master.publicKey,
      guardian_public_keys: this.guardians.map((key) => key.publicKey),
      namespace_claim: this.namespace,
      contact_email: `${this.namespace}@example.test`,
      metadata: { website: 'https://example.test', organization: 'Acceptance – Zürich ✓' },
      ...overrides,
    });
    return envelope('namespace', data, this.master);
  }

  claim(headers?: Record<string, string>): Promise<Answer> {
    return post(`${this.registryUrl}/v1/namespaces`, this.namespaceClaim(), headers);
  }

  appManifest(projectSlug: string, overrides: Data = {}, key: SigningKey = this.master): Envelope {
    const data = fresh({ owner_namespace: this.namespace, project_slug: projectSlug, display_name: `App ${projectSlug}`, ...overrides });
    return envelope('app', data, key);
  }

  /** Registers an app and returns its app_id (throws on anything but 201). */
  async registerApp(projectSlug: string): Promise<string> {
    const answer = await post(`${this.registryUrl}/v1/apps`, this.appManifest(projectSlug));
    if (answer.status !== 201) throw new Error(`app registration: ${answer.status} ${answer.text}`);
    return answer.body.app_id as string;
  }

  delegation(appId: string, authPublicKey: string, authProviderUrl: string, extra: Data = {}): Envelope {
    const data = fresh({
      action: 'DELEGATE_AUTHORITY',
      app_id: appId,
      auth_public_key: authPublicKey,
      auth_provider_url: authProviderUrl,
      ...extra,
    });
    return envelope('delegate_authority', data, this.master);
  }

  delegate(appId: string, authPublicKey: string, authProviderUrl: string, extra: Data = {}): Promise<Answer> {
    return post(`${this.registryUrl}/v1/apps/${appId}/auth`, this.delegation(appId, authPublicKey, authProviderUrl, extra));
  }

  /** SPEC §5.1 provisioning request data, signed `provision`. */
  provisioning(appId: string, targetProvider: string, extra: Data = {}, key: SigningKey = this.master): Envelope {
    return envelope('provision', fresh({ app_id: appId, target_provider: targetProvider, ...extra }), key);
  }

  backboneUpdate(appId: string, operationalContext: Data): Envelope {
    const data = fresh({ app_id: appId, operational_context: operationalContext, context: 'backbone_update' });
    return envelope('backbone_update', data, this.master);
  }

  /** SPEC §10.3 planned rotation: signed by the current Master key, the new key signs the same data. */
  masterKeyRotation(newKey: SigningKey, extra: Data = {}): Envelope {
    const data = fresh({ namespace: this.namespace, new_master_public_key: newKey.publicKey, context: 'master_key_rotation', ...extra });
    return { ...envelope('master_key_rotation', data, this.master), new_key_signature: signObject('master_key_rotation', data, newKey) };
  }

  /** SPEC §10.3 recovery, signed by a Guardian key. */
  identityRecovery(newKey: SigningKey, guardian: SigningKey = this.guardians[0]!, extra: Data = {}): Envelope {
    const data = fresh({ namespace: this.namespace, new_master_public_key: newKey.publicKey, context: 'identity_recovery', ...extra });
    return envelope('identity_recovery', data, guardian);
  }
}
