import type { RedisClientType } from 'redis';

/** One instance's last beat as replicas share it. */
export interface SharedBeat {
  appId: string;
  serviceId: string;
  at: number;
  status: string;
}

export interface SharedBeatsOptions {
  /** A connected client (the registry's, also used for nonces); a subscriber is duplicated from it. */
  client: RedisClientType;
  /** Names the hash and the channel: one per registry (replicas of one registry share it). */
  prefix: string;
  /** Beats another replica took (or, after a reconnection, every beat the hash holds). */
  onBeats(beats: SharedBeat[]): void;
  /** How long beats wait to go out together. Default 100 ms. */
  flushMs?: number;
  /** The hash goes when no replica took a beat this long (every beat in it is then stale). */
  expireSeconds: number;
}

/**
 * Merges beats into the hash (a field keeps the latest beat: replicas' beats arrive in any
 * order), then publishes them to every replica; one round trip per batch.
 * KEYS: hash, channel. ARGV: the message, the hash's lifetime, then field and `<at> <status>` pairs.
 */
const MERGE = `
for i = 3, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if not old or tonumber(string.match(old, '^%d+')) < tonumber(string.match(ARGV[i + 1], '^%d+')) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1`;

/**
 * Drops each field only while it still holds the beat the caller saw stop (another replica may
 * have a newer one). ARGV: field and beat time pairs.
 */
const FORGET = `
for i = 1, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if old and tonumber(string.match(old, '^%d+')) <= tonumber(ARGV[i + 1]) then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`;

/**
 * Last beats shared by the replicas of one registry through Redis (docs/REGISTRY.md,
 * "Liveness"): each replica sends the beats it took, batched, to a hash holding every
 * instance's latest beat and to a channel every replica listens to, so a beat taken by one
 * counts at all of them. A replica that (re)subscribes reads the whole hash first: beats
 * published while it was away are not lost. A batch Redis refuses stays with the replica that
 * took it (counted in `failures`).
 */
export class SharedBeats {
  readonly #client: RedisClientType;
  readonly #subscriber: RedisClientType;
  readonly #hash: string;
  readonly #channel: string;
  readonly #options: SharedBeatsOptions;
  /** Tells this replica's own messages apart. */
  readonly #origin = Math.random().toString(36).slice(2);
  #pending: SharedBeat[] = [];
  #timer: NodeJS.Timeout | null = null;
  #sending: Promise<void> = Promise.resolve();
  #closed = false;
  /** Batches Redis refused (it was away): those beats counted here only. */
  failures = 0;

  private constructor(options: SharedBeatsOptions) {
    this.#options = options;
    this.#client = options.client;
    this.#subscriber = options.client.duplicate();
    this.#hash = `${options.prefix}:last`;
    this.#channel = `${options.prefix}:taken`;
  }

  static async open(options: SharedBeatsOptions): Promise<SharedBeats> {
    const shared = new SharedBeats(options);
    await shared.#listen();
    return shared;
  }

  /** Queues a beat this replica took. */
  push(beat: SharedBeat): void {
    if (this.#closed) return;
    this.#pending.push(beat);
    if (this.#timer === null) {
      this.#timer = setTimeout(() => void this.flush(), this.#options.flushMs ?? 100);
      this.#timer.unref();
    }
  }

  /** Sends what is queued; never throws (a failure is counted). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const beats = this.#pending;
    this.#pending = [];
    if (beats.length === 0) return this.#sending;
    const message = JSON.stringify({ from: this.#origin, beats: beats.map((b) => [b.appId, b.serviceId, b.at, b.status]) });
    const pairs = beats.flatMap((b) => [fieldOf(b.appId, b.serviceId), `${b.at} ${b.status}`]);
    this.#sending = this.#sending.then(() =>
      this.#client
        .eval(MERGE, { keys: [this.#hash, this.#channel], arguments: [message, String(this.#options.expireSeconds), ...pairs] })
        .then(
          () => {},
          () => {
            this.failures++;
          },
        ),
    );
    return this.#sending;
  }

  /** Drops an instance's beat from the hash unless a later one arrived (`at` omitted: whatever it holds, a revoked instance). */
  forget(appId: string, serviceId: string, at = Number.MAX_SAFE_INTEGER): Promise<void> {
    return this.forgetAll([{ appId, serviceId, at }]);
  }

  /** `forget` for many instances in one call (a sweep's stopped ones). */
  async forgetAll(beats: readonly Pick<SharedBeat, 'appId' | 'serviceId' | 'at'>[]): Promise<void> {
    if (beats.length === 0) return;
    const pairs = beats.flatMap((beat) => [fieldOf(beat.appId, beat.serviceId), String(beat.at)]);
    await this.#client.eval(FORGET, { keys: [this.#hash], arguments: pairs }).catch(() => {
      this.failures++;
    });
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#subscriber.isOpen) await this.#subscriber.quit().catch(() => {});
  }

  async #listen(): Promise<void> {
    this.#subscriber.on('error', () => {});
    // Every (re)connection: beats published while nobody listened are in the hash.
    let connections = 0;
    this.#subscriber.on('ready', () => {
      if (connections++ > 0) void this.#readAll();
    });
    await this.#subscriber.connect();
    await this.#subscriber.subscribe(this.#channel, (message) => this.#received(message));
    await this.#readAll();
  }

  #received(message: string): void {
    const { from, beats } = beatsMessage(message);
    if (from !== this.#origin && beats.length > 0) this.#options.onBeats(beats);
  }

  /** Reads every beat of the hash; retried a few times while the main connection comes back too. */
  async #readAll(attempt = 0): Promise<void> {
    try {
      for await (const entries of this.#client.hScanIterator(this.#hash, { COUNT: 1000 })) {
        const beats = entries.flatMap(({ field, value }) => hashBeat(field, value) ?? []);
        if (beats.length > 0) this.#options.onBeats(beats);
      }
    } catch {
      this.failures++;
      if (this.#closed || attempt >= 5) return;
      const retry = setTimeout(() => void this.#readAll(attempt + 1), 1000 * 2 ** attempt);
      retry.unref();
    }
  }
}

/**
 * A message of the channel: who sent it and its well-formed beats. Anything else in it is left
 * out, and a message that is no JSON object has none: whatever else writes to the channel
 * cannot break a replica.
 */
export function beatsMessage(message: string): { from: unknown; beats: SharedBeat[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return { from: null, beats: [] };
  }
  if (typeof parsed !== 'object' || parsed === null) return { from: null, beats: [] };
  const { from, beats: entries } = parsed as { from?: unknown; beats?: unknown };
  const beats: SharedBeat[] = [];
  if (Array.isArray(entries)) {
    for (const entry of entries) {
      if (!Array.isArray(entry)) continue;
      const [appId, serviceId, at, status] = entry;
      if (typeof appId === 'string' && typeof serviceId === 'string' && Number.isSafeInteger(at) && typeof status === 'string') {
        beats.push({ appId, serviceId, at, status });
      }
    }
  }
  return { from: from ?? null, beats };
}

/** One field of the hash (`<app_id> <service_id>` → `<at> <status>`), or null when it is not one. */
export function hashBeat(field: string, value: string): SharedBeat | null {
  const [appId, serviceId, extra] = field.split(' ');
  const [at, status] = value.split(' ');
  if (!appId || !serviceId || extra !== undefined || !status || !/^\d+$/.test(at ?? '')) return null;
  const when = Number(at);
  return Number.isSafeInteger(when) ? { appId, serviceId, at: when, status } : null;
}

/** app_ids and service_ids hold no space. */
function fieldOf(appId: string, serviceId: string): string {
  return `${appId} ${serviceId}`;
}
