import { registryAuthority } from './app-id.js';
import { SwarmError } from './errors.js';
import { isWirePublicKey } from './keys.js';

export interface TrustedRegistry {
  authority: string;
  /** Base URL of the registry's HTTP API, without a trailing slash. */
  baseUrl: string;
  /** The registry's signing key, `ed25519:…`; contexts and broadcasts must verify under it. */
  publicKey: string;
}

/**
 * The table of registries a service or backbone trusts (SPEC §2). A registry is found only
 * here: an authority that is not in the table is `unknown_registry`, and nothing is contacted.
 */
export class TrustedRegistries {
  readonly #byAuthority = new Map<string, TrustedRegistry>();

  constructor(entries: Iterable<TrustedRegistry> = []) {
    for (const entry of entries) this.add(entry);
  }

  add(entry: TrustedRegistry): void {
    if (!isWirePublicKey(entry.publicKey)) throw new SwarmError('invalid_request', `registry ${entry.authority} has no valid public key`);
    this.#byAuthority.set(entry.authority, { ...entry, baseUrl: entry.baseUrl.replace(/\/+$/, '') });
  }

  byAuthority(authority: string): TrustedRegistry {
    const entry = this.#byAuthority.get(authority);
    if (!entry) throw new SwarmError('unknown_registry', `registry ${authority} is not trusted here`);
    return entry;
  }

  /** The trusted registry an app_id names; `invalid_app_id` or `unknown_registry` otherwise. */
  forApp(appId: string): TrustedRegistry {
    return this.byAuthority(registryAuthority(appId));
  }

  list(): TrustedRegistry[] {
    return [...this.#byAuthority.values()];
  }
}
