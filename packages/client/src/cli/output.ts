import { type ErrorCode, SwarmError } from '@swarm/protocol';

/** What a command hands back: the machine form for `--json`, the human form otherwise. */
export interface Output {
  json: unknown;
  human: string;
}

/**
 * Text a peer chose (a log message, a receiver's error, an audit field) written to a terminal:
 * control characters other than newline and tab are shown as `\u{…}` escapes, so no answer
 * can move the cursor, overwrite a line or retitle the window. JSON output needs no such care.
 */
export function terminalSafe(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.charCodeAt(0).toString(16)}}`,
  );
}

/** A plain text table: a header row, then one row per entry, columns padded to their widest cell. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `key  value` lines for one record. */
export function fields(record: Record<string, unknown>): string {
  return table(
    ['field', 'value'],
    Object.entries(record).map(([key, value]) => [
      key,
      typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value),
    ]),
  )
    .split('\n')
    .slice(1)
    .join('\n');
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  unknown_namespace: 'register it with `swarm namespace register <name> --key master.pem --guardian guardian.pem`',
  namespace_taken: 'choose another name; a namespace belongs to the key that claimed it first',
  unknown_app: 'check the app id (`swarm app register` prints it)',
  invalid_app_id: 'an app id looks like local.swarm.<namespace>.<slug>.<hash>; `swarm app register` prints it',
  invalid_signature: "sign with the namespace's current Master key (--key); after `swarm rotate` or `swarm recover` use the new key",
  stale_timestamp: "check this machine's clock: signed requests must be within 5 minutes of the server's",
  nonce_reused: 'run the command again; every request carries a fresh nonce',
  unknown_provider: 'see what is offered with `swarm catalog`',
  unsupported_tier: 'see the tiers offered with `swarm catalog <service_type>`',
  unsupported_region: 'see the regions offered with `swarm catalog <service_type>`',
  storage_limit_exceeded: 'ask for less (--storage-gb) or a larger tier; see `swarm catalog <service_type>`',
  registry_unavailable: 'is the swarm running? start it with `npm start` (or `swarm up`), or point --registry / SWARM_REGISTRY at it',
  unknown_registry: "the part you called does not trust this app's registry; start it with --registry or --trust",
  app_suspended: 'the app is suspended at its registry',
  forbidden: 'this needs the right key or an admin token',
  not_found: 'check the ids; `swarm services <app_id>` lists what is bound',
  gone: 'the instance was decommissioned or the app retired; provision a new one with `swarm provision`',
  proof_reused: 'sign a new provisioning request (run `swarm provision` again)',
  conflict: 'pick another name or file',
  invalid_request: 'check the arguments (`swarm <command> --help`)',
  invalid_token: 'get a fresh user token with `swarm token`',
  quota_exceeded: 'the instance is full; provision a larger --storage-gb',
};

export function hintFor(code: ErrorCode): string | undefined {
  return HINTS[code];
}

export function toCliError(error: unknown): SwarmError {
  if (error instanceof SwarmError) return error;
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === 'EADDRINUSE') return new SwarmError('conflict', `${message ?? 'address in use'}: is another swarm running?`);
  return new SwarmError('internal_error', message ?? String(error));
}
