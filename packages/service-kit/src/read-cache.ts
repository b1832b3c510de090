import type { CacheCounts } from '@swarm/runtime';

/**
 * Answers of hot reads kept in memory, as the JSON text sent: a repeated GET costs a map lookup
 * instead of a query and a serialization. Correct only while this process sees every write:
 *
 * - its own writes call `forget` (or `clear`) after they commit;
 * - another connection's commit (another process writing the SQLite file; replicas use
 *   PostgreSQL, where there is no cache) changes the database's data version, which empties the
 *   cache. It is read once per turn of the event loop (reading it costs 1.6 µs, a twentieth of
 *   a whole request): a request sees every such commit made before its turn began;
 * - a read that started before a `forget` of the same key does not store what it read
 *   (`generation` taken before the read, checked at `set`).
 *
 * Bounded by the total length of the texts kept (`maxBytes`, counted in characters: JSON is
 * mostly ASCII); the oldest entries go first.
 */
export class ReadCache {
  readonly #dataVersion: (() => number) | null;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, string>();
  #bytes = 0;
  #version = 0;
  #generation = 0;
  #versionRead = false;
  readonly #nextTurn = () => {
    this.#versionRead = false;
  };

  readonly #counts: CacheCounts;

  /** `counts`: the kit's (DomainContext `readCacheCounts`), so hits and misses reach the metrics. */
  constructor(dataVersion: (() => number) | null, options: { maxBytes?: number; counts?: CacheCounts } = {}) {
    this.#dataVersion = dataVersion;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#counts = options.counts ?? { hit: 0, miss: 0 };
    this.#version = dataVersion?.() ?? 0;
  }

  get enabled(): boolean {
    return this.#dataVersion !== null && this.#maxBytes > 0;
  }

  /** Taken before a read whose answer may be stored. */
  get generation(): number {
    return this.#generation;
  }

  get(key: string): string | undefined {
    if (!this.#dataVersion) return undefined;
    if (!this.#versionRead) {
      this.#versionRead = true;
      setImmediate(this.#nextTurn);
      const version = this.#dataVersion();
      if (version !== this.#version) {
        this.clear();
        this.#version = version;
        this.#counts.miss++;
        return undefined;
      }
    }
    const text = this.#entries.get(key);
    if (text === undefined) this.#counts.miss++;
    else this.#counts.hit++;
    return text;
  }

  set(key: string, text: string, generation: number): void {
    if (!this.enabled || generation !== this.#generation || text.length > this.#maxBytes) return;
    this.#remove(key);
    this.#entries.set(key, text);
    this.#bytes += text.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.length;
    }
  }

  forget(key: string): void {
    this.#generation++;
    this.#remove(key);
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
    this.#bytes = 0;
  }

  #remove(key: string): void {
    const old = this.#entries.get(key);
    if (old === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= old.length;
  }
}
