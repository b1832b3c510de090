import { SwarmError } from '@swarm/protocol';

const MAX_KEY_BYTES = 1024;

/**
 * The object key of a raw request path after `/objects/` (SPEC §12): segments are
 * percent-decoded one by one and joined with `/`; the key is 1–1024 bytes of UTF-8, and `.`,
 * `..` and empty segments are refused so no key can look like a path that climbs.
 */
export function parseObjectKey(encoded: string): string {
  if (encoded.length === 0 || encoded.length > MAX_KEY_BYTES * 3)
    throw new SwarmError('invalid_request', 'object key must be 1–1024 bytes');
  const segments = encoded.split('/').map((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new SwarmError('invalid_request', 'object key segments must be percent-encoded UTF-8');
    }
    if (decoded === '' || decoded === '.' || decoded === '..')
      throw new SwarmError('invalid_request', 'object key has an empty, "." or ".." segment');
    return decoded;
  });
  const key = segments.join('/');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes < 1 || bytes > MAX_KEY_BYTES) throw new SwarmError('invalid_request', 'object key must be 1–1024 bytes');
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new SwarmError('invalid_request', 'object key must not contain control characters');
  return key;
}

/** The part of a request URL after `/objects/`, before any query. */
export function encodedKeyOf(url: string): string {
  const path = url.split('?')[0] ?? '';
  const at = path.indexOf('/objects/');
  return at < 0 ? '' : path.slice(at + '/objects/'.length);
}
