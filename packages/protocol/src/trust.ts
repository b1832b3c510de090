import { z } from 'zod';
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
  #byAuthority = new Map<string, TrustedRegistry>();
  readonly #listeners = new Set<() => void>();

  constructor(entries: Iterable<TrustedRegistry> = []) {
    for (const entry of entries) this.add(entry);
  }

  /** The table itself when given one (a part shares an operator's live table), else a new one. */
  static of(source: Iterable<TrustedRegistry> | TrustedRegistries): TrustedRegistries {
    return source instanceof TrustedRegistries ? source : new TrustedRegistries(source);
  }

  add(entry: TrustedRegistry): void {
    this.#byAuthority.set(entry.authority, checkedEntry(entry));
    this.#changed();
  }

  /**
   * Swaps the whole table at once (an operator edited the trust file): every entry is checked
   * first, so a bad list throws and leaves the table as it was. Listeners hear of the change.
   */
  replace(entries: Iterable<TrustedRegistry>): void {
    const next = new Map<string, TrustedRegistry>();
    for (const entry of entries) next.set(entry.authority, checkedEntry(entry));
    this.#byAuthority = next;
    this.#changed();
  }

  /** Called after every change; answers the function that stops listening. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
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

function checkedEntry(entry: TrustedRegistry): TrustedRegistry {
  if (!isWirePublicKey(entry.publicKey)) throw new SwarmError('invalid_request', `registry ${entry.authority} has no valid public key`);
  return { authority: entry.authority, publicKey: entry.publicKey, baseUrl: entry.baseUrl.replace(/\/+$/, '') };
}

const TrustEntry = z.strictObject({
  authority: z.string().min(1).max(253),
  baseUrl: z
    .string()
    .min(1)
    .max(2048)
    .refine((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), 'an http(s) URL'),
  publicKey: z.string().max(128),
});

/**
 * A trust file's text (`[{ authority, baseUrl, publicKey }]`, JSON) as checked entries; an
 * `invalid_request` naming what is wrong otherwise. Authorities appear once.
 */
export function parseTrustList(text: string): TrustedRegistry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SwarmError('invalid_request', 'a trust list is JSON: [{ "authority", "baseUrl", "publicKey" }]');
  }
  const parsed = z.array(TrustEntry).max(1000).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SwarmError(
      'invalid_request',
      `a trust list is [{ "authority", "baseUrl", "publicKey" }]: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const seen = new Set<string>();
  return parsed.data.map((entry) => {
    if (seen.has(entry.authority)) throw new SwarmError('invalid_request', `registry ${entry.authority} is listed twice`);
    seen.add(entry.authority);
    return checkedEntry(entry);
  });
}
