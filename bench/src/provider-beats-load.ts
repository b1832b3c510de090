// Batched liveness of many providers, in a process of its own so its signing shares no event
// loop (and no CPU account) with the registry it loads:
//   provider-beats-load.ts '<ProviderBeatsOptions>'
// reads every active binding of the given providers from the registry's SQLite file, and sends
// each provider's signed heartbeats (MAX_PROVIDER_BEATS instances a request) so that every
// instance beats once per interval, the requests spread evenly over it. `report` on stdin prints
// what happened since the last report (as beats-load.ts does), with its own CPU.
import { MAX_PROVIDER_BEATS, newNonce, nowSeconds, type SigningKey, signEnvelope } from '@swarm/protocol';
import SQLite from 'better-sqlite3';
import { Pool } from 'undici';
import { type BeatReport, type InstanceKeyJwk, instanceKeyOf } from './beats.js';
import { LoadWindow, serveReports } from './load-window.js';

export interface ProviderBeatsOptions {
  registry: string;
  /** The registry's SQLite file, read once for the bindings of `providers`. */
  database: string;
  providers: Array<{ name: string } & InstanceKeyJwk>;
  intervalSeconds: number;
  connections: number;
  /** Requests waiting for an answer; past it a request is skipped and its beats counted as skipped. */
  maxInFlight: number;
}

interface Batch {
  provider: string;
  key: SigningKey;
  path: string;
  beats: Array<{ app_id: string; service_id: string; status: 'ok' }>;
}

/** A window that also counts signed requests and the beats they asked for. */
class ProviderWindow extends LoadWindow {
  requests = 0;
  asked = 0;
}

const options = JSON.parse(process.argv[2] ?? 'null') as ProviderBeatsOptions | null;
if (!options) throw new Error('usage: provider-beats-load.ts <ProviderBeatsOptions as JSON>');

const batches = readBatches(options);
const instances = batches.reduce((sum, batch) => sum + batch.beats.length, 0);
const pool = new Pool(options.registry, { connections: options.connections, pipelining: 1 });
const perSecond = instances / options.intervalSeconds;
const requestsPerSecond = batches.length / options.intervalSeconds;

let window = new ProviderWindow();
let inFlight = 0;

/** Beats the registry took, and the others by code (a whole request refused: `<status> <code>` for each of its beats). */
async function send(batch: Batch): Promise<{ accepted: number; refused: Record<string, number> }> {
  // Signed when sent, as a provider signs each interval's request: timestamps stay fresh.
  const body = signEnvelope(
    'provider_heartbeat',
    { provider: batch.provider, timestamp: nowSeconds(), nonce: newNonce(), beats: batch.beats },
    batch.key.privateKey,
  );
  const answer = await pool.request({
    method: 'POST',
    path: batch.path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await answer.body.text();
  const parsed = text ? (JSON.parse(text) as { results?: Array<{ error?: { code: string } }>; error?: string }) : {};
  if (answer.statusCode !== 200)
    return { accepted: 0, refused: { [`${answer.statusCode} ${parsed.error ?? 'unknown'}`]: batch.beats.length } };
  let accepted = 0;
  const refused: Record<string, number> = {};
  for (const result of parsed.results ?? []) {
    if (result.error) refused[result.error.code] = (refused[result.error.code] ?? 0) + 1;
    else accepted++;
  }
  return { accepted, refused };
}

function fire(batch: Batch): void {
  window.asked += batch.beats.length;
  if (inFlight >= options!.maxInFlight) {
    // The registry is this far behind: the request is dropped, as a provider's timer would fire
    // again next interval rather than queue without end.
    window.skipped += batch.beats.length;
    return;
  }
  inFlight++;
  window.requests++;
  const at = performance.now();
  const counted = window;
  send(batch).then(
    (outcome) => {
      inFlight--;
      counted.latency(performance.now() - at);
      counted.accepted += outcome.accepted;
      for (const [code, n] of Object.entries(outcome.refused)) counted.refuse(code, n);
    },
    () => {
      inFlight--;
      counted.failed += batch.beats.length;
    },
  );
}

// Request j leaves at j/B of every interval: an even spread, as providers' independent timers give.
const start = performance.now();
let issued = 0;
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - start) / 1000) * requestsPerSecond);
  for (; issued < due; issued++) fire(batches[issued % batches.length] as Batch);
}, 5);

function report(): BeatReport & { requests: number; asked: number } {
  const done = window;
  window = new ProviderWindow();
  // Beats asked for, of which those skipped never left: the rest were sent.
  done.sent = done.asked - done.skipped;
  return { ...done.report(instances, options!.intervalSeconds, inFlight), requests: done.requests, asked: done.asked };
}

process.stdout.write(`${JSON.stringify({ instances, requests: batches.length, per_second: perSecond })}\n`);
serveReports(report, async () => {
  clearInterval(timer);
  await pool.destroy();
});

/** Each provider's active bindings, MAX_PROVIDER_BEATS to a request; providers interleaved so none beats all at once. */
function readBatches(o: ProviderBeatsOptions): Batch[] {
  const db = new SQLite(o.database, { readonly: true, fileMustExist: true });
  const select = db.prepare("SELECT app_id, service_id FROM bindings WHERE provider = ? AND status = 'active' ORDER BY app_id, service_id");
  const perProvider = o.providers.map((provider) => {
    const key = instanceKeyOf(provider);
    const rows = select.all(provider.name) as Array<{ app_id: string; service_id: string }>;
    const own: Batch[] = [];
    for (let i = 0; i < rows.length; i += MAX_PROVIDER_BEATS) {
      own.push({
        provider: provider.name,
        key,
        path: `/v1/providers/${provider.name}/heartbeats`,
        beats: rows.slice(i, i + MAX_PROVIDER_BEATS).map((row) => ({ app_id: row.app_id, service_id: row.service_id, status: 'ok' })),
      });
    }
    return own;
  });
  db.close();
  const all: Batch[] = [];
  for (let round = 0; perProvider.some((own) => round < own.length); round++) {
    for (const own of perProvider) if (round < own.length) all.push(own[round] as Batch);
  }
  return all;
}
