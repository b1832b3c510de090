import type { IncomingHttpHeaders } from 'node:http';
import { SwarmError } from '@swarm/protocol';

export const META_PREFIX = 'x-swarm-meta-';
/** As S3: names and values of one object's user metadata take at most 2 KiB together. */
export const MAX_METADATA_BYTES = 2048;

/**
 * The user metadata of an upload: every `x-swarm-meta-<name>` header (names arrive lowercase),
 * values of printable ASCII. Too much, or a value a header could not carry back, is
 * `400 invalid_request`, so what is stored can always be returned as sent.
 */
export function metadataOf(headers: IncomingHttpHeaders): Record<string, string> | null {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  let any = false;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(META_PREFIX)) continue;
    const short = name.slice(META_PREFIX.length);
    const text = Array.isArray(value) ? value.join(', ') : (value ?? '');
    if (!/^[a-z0-9_-]{1,128}$/.test(short)) throw new SwarmError('invalid_request', 'metadata names are letters, digits, "-" and "_"');
    if (!/^[\x20-\x7e]*$/.test(text)) throw new SwarmError('invalid_request', 'metadata values are printable ASCII');
    bytes += short.length + text.length;
    if (bytes > MAX_METADATA_BYTES) throw new SwarmError('invalid_request', `metadata is over ${MAX_METADATA_BYTES} bytes`);
    metadata[short] = text;
    any = true;
  }
  return any ? metadata : null;
}

export const storedMetadata = (text: string | null): Record<string, string> =>
  text === null ? {} : (JSON.parse(text) as Record<string, string>);
