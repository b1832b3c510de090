// The bench process's side of the liveness load (beats-load.ts runs in a child process).
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type Part, spawnScript, stop } from '@swarm/dev-env';
import { encodePublicKey, type SigningKey } from '@swarm/protocol';

const SCRIPT = fileURLToPath(new URL('./beats-load.ts', import.meta.url));

/** The real heartbeat interval (SPEC §9.2, 10 s locally) and the instances that beat under load. */
export const HEARTBEAT_INTERVAL_SECONDS = 10;
export const BEATING_INSTANCES = Number(process.env.BENCH_BEATING_INSTANCES ?? 10_000);

export interface SeedOptions {
  registry: string;
  adminToken: string;
  apps: number;
  instancesPerApp: number;
  appsPerNamespace: number;
  /** Where the apps, instances and instance key seeds are written. */
  file: string;
  concurrency: number;
}

export interface SeededApp {
  app_id: string;
  /** The app's DNS zone, with its final dot. */
  zone: string;
  instances: Array<{ service_id: string } & InstanceKeyJwk>;
}

/** An instance key as the seed file keeps it: the JWK members `d` (private) and `x` (public). */
export interface InstanceKeyJwk {
  d: string;
  x: string;
}

/**
 * A new instance key and its JWK members. JWK, not PKCS#8: OpenSSL imports a raw JWK key about
 * ten times faster than it decodes DER here (0.2 vs 2 ms), which is what 10 000 keys take to load.
 */
export function newInstanceKey(): { key: SigningKey; jwk: InstanceKeyJwk } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const { d, x } = privateKey.export({ format: 'jwk' }) as { d: string; x: string };
  return { key: { privateKey, publicKey: encodePublicKey(Buffer.from(x, 'base64url')) }, jwk: { d, x } };
}

export function instanceKeyOf(jwk: InstanceKeyJwk): SigningKey {
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: jwk.d, x: jwk.x }, format: 'jwk' });
  return { privateKey, publicKey: encodePublicKey(Buffer.from(jwk.x, 'base64url')) };
}

export interface SeedFile {
  apps: SeededApp[];
}

export interface SeedSummary {
  apps: number;
  instances: number;
  seconds: number;
  cpu_seconds: number;
}

export interface BeatOptions {
  registry: string;
  file: string;
  intervalSeconds: number;
  connections: number;
  /** Beats waiting for an answer; past it a beat is skipped and counted. */
  maxInFlight: number;
}

/** What the generator saw since its previous report. */
export interface BeatReport {
  instances: number;
  interval_seconds: number;
  target_per_second: number;
  seconds: number;
  sent: number;
  accepted: number;
  accepted_per_second: number;
  refused: number;
  refused_by_code: Record<string, number>;
  failed: number;
  skipped: number;
  in_flight: number;
  p50_ms: number;
  p99_ms: number;
  /** The generator's own CPU time per wall-clock second (1 = one core busy). */
  cpu_share: number;
}

/** Seeds `options.apps` apps with their bound instances through the registry's routes. */
export async function seedInstances(options: Omit<SeedOptions, 'concurrency'> & { concurrency?: number }): Promise<SeedSummary> {
  const part = await spawnScript<SeedSummary>('beats seed', SCRIPT, ['seed', JSON.stringify({ concurrency: 32, ...options })], {
    stderr: 'inherit',
    readyTimeoutMs: 600_000,
  });
  await stop(part);
  return part.ready;
}

export interface Beats {
  /** What happened since the previous report (or the start). */
  report(): Promise<BeatReport>;
  stop(): Promise<void>;
}

/** Starts the heartbeats of every instance in `file` against `registry`. */
export async function startBeats(registry: string, file: string, overrides: Partial<BeatOptions> = {}): Promise<Beats> {
  const options: BeatOptions = {
    registry,
    file,
    intervalSeconds: HEARTBEAT_INTERVAL_SECONDS,
    connections: 64,
    maxInFlight: 2048,
    ...overrides,
  };
  const part: Part = await spawnScript('beats', SCRIPT, ['beat', JSON.stringify(options)], { stderr: 'inherit', stdin: true });
  return {
    async report() {
      part.child.stdin?.write('report\n');
      return JSON.parse(await part.nextLine()) as BeatReport;
    },
    stop: () => stop(part),
  };
}

/** "1 000 beats/s asked, 998/s accepted, 0 refused, 0 skipped, p99 12 ms, generator 0.21 core". */
export function describeBeats(report: BeatReport): string {
  // No beat answered in the window: its percentiles are NaN (null once through JSON).
  const ms = (value: number | null) => (value === null || Number.isNaN(value) ? '—' : value.toFixed(1));
  const refused = Object.entries(report.refused_by_code)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ');
  return (
    `${report.instances} instances beating every ${report.interval_seconds} s: ${Math.round(report.target_per_second)} beats/s asked, ` +
    `${Math.round(report.accepted_per_second)}/s accepted, ${report.refused} refused${refused ? ` (${refused})` : ''}, ` +
    `${report.failed} failed, ${report.skipped} skipped; beat p50 ${ms(report.p50_ms)} ms, p99 ${ms(report.p99_ms)} ms; ` +
    `generator ${report.cpu_share.toFixed(2)} core`
  );
}
