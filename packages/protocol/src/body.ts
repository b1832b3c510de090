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
    const ch = text[i];
    if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === '[') {
      stack.push(null);
      expectKey = false;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
      expectKey = false;
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
    } else if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
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
