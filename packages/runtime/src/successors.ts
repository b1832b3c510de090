import {
  canonicalDigest,
  MigrationEvidence,
  registryAuthority,
  SwarmError,
  sameKeySet,
  type TrustedRegistries,
  type TrustedRegistry,
  verifyAppExport,
  verifyContestActivation,
  verifyGuardianApproval,
  verifyMigrationProof,
  verifySuccessor,
} from '@swarm/protocol';
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
    return [registryAuthority(appId), ...chain.map(targetOf)].slice(0, -1);
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
    const issuer = issuerOf(envelope);
    // A repeat (a broadcast retried, a 410 from the old registry) of a successor already followed.
    if (issuer !== current.authority && this.formerRegistries(appId).includes(issuer as string)) {
      verifyLink(this.#trusted, appId, envelope, issuer as string);
      return { registry: current, changed: false };
    }
    const successor = verifyLink(this.#trusted, appId, envelope, current.authority);
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
    for (const link of chain) current = verifyLink(this.#trusted, appId, link, current.authority);
    return current;
  }
}

/**
 * One link of a chain, checked: the registry it hands the app on to, from the trust table. A link
 * is S's signed successor (the release), or the owner's evidence of a move S did not release
 * (docs/SERVICE-KIT.md, "Following a migration"): a Guardian-approved move, or one T activated
 * after its contest window.
 */
function verifyLink(trusted: TrustedRegistries, appId: string, link: unknown, previous: string): TrustedRegistry {
  if (isApprovedMove(link)) return verifyApprovedMove(trusted, appId, link, previous);
  const { successor } = verifySuccessor(link, trusted, appId, { expectPrevious: previous });
  if (!successor) throw new SwarmError('unknown_registry', 'the successor registry is not trusted here');
  return successor;
}

/** `{ export, proof, guardian_approval | activation }`; a successor envelope has none of these. */
export function isApprovedMove(link: unknown): boolean {
  return typeof link === 'object' && link !== null && 'proof' in link;
}

/** Evidence carrying T's signed activation (the contest path): it proves itself, T need not be asked. */
export function isActivatedMove(link: unknown): boolean {
  return isApprovedMove(link) && 'activation' in (link as object);
}

/**
 * A move without S's release, proven by the owner: S's signed export of the app (under S's key
 * from this part's trust table, S holding the app now), the Master-signed Proof of Continuity
 * for it (its Master key, its export digest, the Guardian set unchanged) naming a trusted
 * target, and either a co-signature by a Guardian key of the exported set (Guardian path) or
 * the target's signed activation of this very proof once its contest window had passed without
 * a veto (contest path). A stolen Master key alone makes neither: the first needs a Guardian,
 * the second gave the Guardians the whole window to veto at T. Answers the target, from the
 * trust table (`unknown_registry` otherwise).
 */
export function verifyApprovedMove(trusted: TrustedRegistries, appId: string, link: unknown, previous: string): TrustedRegistry {
  const parsed = MigrationEvidence.safeParse(link);
  if (!parsed.success) throw new SwarmError('invalid_request', 'evidence of a move is { export, proof, guardian_approval | activation }');
  const { export: signedExport, proof: signedProof, guardian_approval: approval, activation } = parsed.data;
  if (approval && activation !== undefined) {
    throw new SwarmError('invalid_request', 'evidence of a move carries a Guardian approval or an activation, not both');
  }
  if (!approval && activation === undefined) {
    throw new SwarmError('invalid_request', "a move the source did not release needs a Guardian approval or the target's activation");
  }
  const exported = verifyAppExport(signedExport, trusted.byAuthority(previous).publicKey, appId);
  if (exported.source.authority !== previous) throw new SwarmError('invalid_request', `the export is not from ${previous}`);
  const proof = verifyMigrationProof(signedProof, exported.master_public_key, appId);
  if (proof.previous_registry !== previous)
    throw new SwarmError('invalid_request', `the proof moves the app from ${proof.previous_registry}, not ${previous}`);
  if (proof.export_digest !== canonicalDigest(signedExport)) throw new SwarmError('invalid_request', 'the proof is for another export');
  if (!sameKeySet(proof.guardian_public_keys, exported.guardian_public_keys)) {
    throw new SwarmError('invalid_request', 'a Master key can never change the Guardian set');
  }
  const target = trusted.byAuthority(proof.target_registry);
  if (approval) verifyGuardianApproval(approval, proof, exported.guardian_public_keys);
  else verifyContestActivation(activation, target.publicKey, proof, canonicalDigest(signedProof));
  return target;
}

/** Who issued a link: the registry it moves the app away from. */
function issuerOf(link: unknown): unknown {
  if (isApprovedMove(link)) return (link as { proof?: { data?: { previous_registry?: unknown } } }).proof?.data?.previous_registry;
  return (link as { data?: { previous_registry?: unknown } } | null)?.data?.previous_registry;
}

/** The registry a kept (already verified) link hands the app on to. */
function targetOf(link: unknown): string {
  if (isApprovedMove(link)) return (link as { proof: { data: { target_registry: string } } }).proof.data.target_registry;
  return (link as { data: { successor: string } }).data.successor;
}

/** The signed successor of a `410 app_migrated` answer, or undefined for any other answer. */
export function migratedSuccessor(status: number, body: unknown): unknown {
  if (status !== 410 || typeof body !== 'object' || body === null) return undefined;
  const { error, successor } = body as { error?: { code?: unknown }; successor?: unknown };
  return error?.code === 'app_migrated' && successor !== undefined ? successor : undefined;
}
