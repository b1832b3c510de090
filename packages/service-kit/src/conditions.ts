import { SwarmError } from '@swarm/protocol';

/** Longer condition headers are refused unread: a client has no reason to send hundreds of tags. */
const MAX_CONDITION_CHARS = 8192;

/** `"…"` with the characters RFC 9110 §8.8.3 allows inside an entity tag. */
const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;

/**
 * The entity tags of an `If-Match` / `If-None-Match` header (RFC 9110 §13.1.1, §13.1.2): `'*'`,
 * a list of `{ weak, tag }`, or null when the header is absent. A malformed header is
 * `400 invalid_request`: a condition the server cannot read must not be taken as met.
 */
export function parseEntityTags(header: string | string[] | undefined): '*' | Array<{ weak: boolean; tag: string }> | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text.length > MAX_CONDITION_CHARS) throw new SwarmError('invalid_request', 'condition header is too long');
  if (text.trim() === '*') return '*';
  const tags = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const match = ENTITY_TAG.exec(item);
    if (!match) throw new SwarmError('invalid_request', 'a condition header must hold quoted entity tags or *');
    tags.push({ weak: match[1] !== undefined, tag: match[2] as string });
  }
  if (tags.length === 0) throw new SwarmError('invalid_request', 'a condition header must hold quoted entity tags or *');
  return tags;
}

/**
 * `If-Match` (strong comparison): true when absent, or when the current tag is listed (`*`:
 * when there is a current representation). `current` is the bare tag, null when nothing exists.
 */
export function ifMatchPasses(header: string | string[] | undefined, current: string | null): boolean {
  const tags = parseEntityTags(header);
  if (tags === null) return true;
  if (current === null) return false;
  return tags === '*' || tags.some((t) => !t.weak && t.tag === current);
}

/** `If-None-Match` (weak comparison): true when absent, or when the current tag is not listed (`*`: when nothing exists). */
export function ifNoneMatchPasses(header: string | string[] | undefined, current: string | null): boolean {
  const tags = parseEntityTags(header);
  if (tags === null) return true;
  if (current === null) return true;
  return tags !== '*' && !tags.some((t) => t.tag === current);
}

export const preconditionFailed = (what: string) => new SwarmError('precondition_failed', `${what} changed: the precondition failed`);

/**
 * The write-side check of RFC 9110 §13.2.2 for a row whose version tag is `current` (null: no
 * row): a failed `If-Match` or `If-None-Match` is `412 precondition_failed`.
 */
export function requireWritePreconditions(
  headers: { 'if-match'?: string | string[]; 'if-none-match'?: string | string[] },
  current: string | null,
  what: string,
): void {
  if (!ifMatchPasses(headers['if-match'], current)) throw preconditionFailed(what);
  if (!ifNoneMatchPasses(headers['if-none-match'], current)) throw preconditionFailed(what);
}
