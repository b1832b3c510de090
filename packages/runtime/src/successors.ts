import { registryAuthority, SwarmError, type TrustedRegistries, type TrustedRegistry, verifySuccessor } from '@swarm/protocol';
import type { AppRegistryRow, SuccessorStore } from './app-registries.js';
import { SingleFlight } from './ttl-cache.js';

/** A registry may hand an app on at most this many times before a part stops following (a loop, or a chain built to exhaust it). */
export const MAX_REGISTRY_HOPS = 3;

/** Where an app resolves after a follow, and whether this follow moved it. */
export interface FollowedApp {
  registry: TrustedRegistry;
  changed: boolean;
}

type Listener = (appId: string, registry: TrustedRegistry) => void;

/**
 * The apps that moved to another registry, as this part followed them: each one's chain of
 * signed successors from the registry its app_id names. A successor is taken only when it is
 * signed by the app's CURRENT registry under that registry's key from the trust table, names a
 * registry in the trust table too (`unknown_registry`, nothing contacted), and the chain stays
 * within MAX_REGISTRY_HOPS. Trust is configured, never inferred: `successor_url` is only what S
 * claims; the successor's base URL and key come from this part's own trust table.
 */
export class Successors {
  readonly #trusted: TrustedRegistries;
  readonly #store: SuccessorStore | undefined;
  readonly #byApp = new Map<string, AppRegistryRow>();
  readonly #follows = new SingleFlight<string, FollowedApp>();
  readonly #listeners = new Set<Listener>();

  constructor(trusted: TrustedRegistries, store?: SuccessorStore) {
    this.#trusted = trusted;
    this.#store = store;
  }

  /** Reads the kept chains; one that no longer verifies under today's trust table is left out (the app resolves by its app_id). */
  async load(): Promise<void> {
    if (!this.#store) return;
    for (const row of await this.#store.list()) {
      try {
        this.#byApp.set(row.appId, { ...row, authority: this.#walk(row.appId, row.chain).authority });
      } catch {
        // A registry on the chain is no longer trusted: nothing is followed through it.
      }
    }
  }

  /** The registry holding the app now (`unknown_registry` when it is not, or no longer, trusted). */
  registryFor(appId: string): TrustedRegistry {
    const followed = this.#byApp.get(appId);
    return this.#trusted.byAuthority(followed ? followed.authority : registryAuthority(appId));
  }

  /** The authorities the app was held at before the current one, oldest first. */
  formerRegistries(appId: string): string[] {
    const chain = this.#byApp.get(appId)?.chain ?? [];
    return [registryAuthority(appId), ...chain.map((envelope) => (envelope as { data: { successor: string } }).data.successor)].slice(
      0,
      -1,
    );
  }

  /** Called after each follow that moved an app (the kit re-binds its instances there). */
  onFollow(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  follow(appId: string, envelope: unknown): Promise<FollowedApp> {
    return this.#follows.run(appId, () => this.#follow(appId, envelope));
  }

  async #follow(appId: string, envelope: unknown): Promise<FollowedApp> {
    const current = this.registryFor(appId);
    const kept = this.#byApp.get(appId);
    const chain = kept?.chain ?? [];
    const issuer = (envelope as { data?: { previous_registry?: unknown } } | null)?.data?.previous_registry;
    // A repeat (a broadcast retried, a 410 from the old registry) of a successor already followed.
    if (issuer !== current.authority && this.formerRegistries(appId).includes(issuer as string)) {
      verifySuccessor(envelope, this.#trusted, appId, { expectPrevious: issuer as string });
      return { registry: current, changed: false };
    }
    const { successor } = verifySuccessor(envelope, this.#trusted, appId, { expectPrevious: current.authority });
    if (!successor) throw new SwarmError('unknown_registry', 'the successor registry is not trusted here');
    if (chain.length + 1 > MAX_REGISTRY_HOPS) {
      throw new SwarmError('invalid_request', `the app moved more than ${MAX_REGISTRY_HOPS} times; not followed further`);
    }
    const row: AppRegistryRow = {
      appId,
      authority: successor.authority,
      chain: [...chain, envelope],
      updatedAt: Math.floor(Date.now() / 1000),
    };
    await this.#store?.save(row);
    this.#byApp.set(appId, row);
    for (const listener of this.#listeners) listener(appId, successor);
    return { registry: successor, changed: true };
  }

  /** Checks a kept chain link by link from the app_id's registry; the last registry it reaches. */
  #walk(appId: string, chain: unknown[]): TrustedRegistry {
    if (chain.length > MAX_REGISTRY_HOPS) throw new SwarmError('invalid_request', 'too many hops');
    let current = this.#trusted.forApp(appId);
    for (const envelope of chain) {
      const { successor } = verifySuccessor(envelope, this.#trusted, appId, { expectPrevious: current.authority });
      if (!successor) throw new SwarmError('unknown_registry', 'the successor registry is not trusted here');
      current = successor;
    }
    return current;
  }
}

/** The signed successor of a `410 app_migrated` answer, or undefined for any other answer. */
export function migratedSuccessor(status: number, body: unknown): unknown {
  if (status !== 410 || typeof body !== 'object' || body === null) return undefined;
  const { error, successor } = body as { error?: { code?: unknown }; successor?: unknown };
  return error?.code === 'app_migrated' && successor !== undefined ? successor : undefined;
}
