import { SwarmError } from './errors.js';

/** SPEC §3: request bodies over this size are refused (blob uploads aside). */
export const MAX_BODY_BYTES = 64 * 1024;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses an untrusted JSON body. Oversize bodies, invalid JSON, duplicate keys at any depth,
 * prototype-polluting keys and non-object tops are refused before anything else sees them.
 */
export function readJsonBody(raw: string | Uint8Array, maxBytes = MAX_BODY_BYTES): Record<string, unknown> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > maxBytes) throw new SwarmError('payload_too_large', `body is over ${maxBytes} bytes`);
  const text = typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: false }).decode(raw);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SwarmError('invalid_request', 'body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SwarmError('invalid_request', 'body must be a JSON object');
  }
  checkKeys(text);
  // A lone surrogate can only come in as a `\u` escape; no escape, nothing to walk.
  if (text.includes('\\u') && !isWellFormedValue(value)) {
    throw new SwarmError('invalid_request', 'body holds a string that is not well-formed Unicode (a lone surrogate)');
  }
  return value as Record<string, unknown>;
}

/**
 * Whether every string (keys too) is well-formed UTF-16. A lone surrogate has no UTF-8 form, so
 * it has no canonical bytes (RFC 8785) and nothing signed could ever cover it.
 */
export function isWellFormedValue(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) return value.every(isWellFormedValue);
  for (const [key, item] of Object.entries(value)) if (!key.isWellFormed() || !isWellFormedValue(item)) return false;
  return true;
}

/**
 * JSON.parse keeps the last of duplicate keys silently, so signed and acted-on values could
 * differ. This scan walks the (already valid) text once and refuses duplicates and
 * prototype keys at any depth.
 */
function checkKeys(text: string): void {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === OPEN_BRACE) {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === OPEN_BRACKET) {
      stack.push(null);
      expectKey = false;
    } else if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) {
      stack.pop();
      expectKey = false;
    } else if (ch === COMMA) {
      expectKey = stack[stack.length - 1] instanceof Set;
    } else if (ch === QUOTE) {
      const end = closingQuote(text, i);
      if (expectKey) {
        const inner = text.slice(i + 1, end);
        const key = inner.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : inner;
        const keys = stack[stack.length - 1] as Set<string>;
        if (FORBIDDEN_KEYS.has(key)) throw new SwarmError('invalid_request', `key "${key}" is not allowed`);
        if (keys.has(key)) throw new SwarmError('invalid_request', `duplicate key "${key}"`);
        keys.add(key);
        expectKey = false;
      }
      i = end;
    }
  }
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index of the quote that closes the string opening at `open` (the text is valid JSON). */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  for (;;) {
    // A quote preceded by an odd run of backslashes is escaped.
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
}
