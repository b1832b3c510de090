/** What a `Range` header asks of an object of `size` bytes (RFC 9110 §14.2). */
export type RangeAnswer =
  /** Send the whole object (no header, a header this server ignores, or more than one range). */
  | { kind: 'full' }
  /** Send bytes `start`…`end` (inclusive) with `206`. */
  | { kind: 'partial'; start: number; end: number }
  /** `416` with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' };

const MAX_RANGE_HEADER_CHARS = 1024;
const DIGITS = /^[0-9]{1,16}$/;

/**
 * One byte range, as object stores serve them: `bytes=a-b`, `bytes=a-` and `bytes=-n`. A header
 * that is not a `bytes` range set, or that holds several ranges, is ignored (the whole object
 * is sent, as RFC 9110 permits); a well-formed single range past the end is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined || header.length > MAX_RANGE_HEADER_CHARS) return { kind: 'full' };
  const match = /^bytes=(.*)$/i.exec(header.trim());
  if (!match) return { kind: 'full' };
  const specs = (match[1] as string).split(',');
  if (specs.length !== 1) return { kind: 'full' };
  const spec = (specs[0] as string).trim();
  const dash = spec.indexOf('-');
  if (dash < 0) return { kind: 'full' };
  const first = spec.slice(0, dash);
  const last = spec.slice(dash + 1);
  if (first === '') {
    // A suffix: the last n bytes.
    if (!DIGITS.test(last)) return { kind: 'full' };
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  if (!DIGITS.test(first) || (last !== '' && !DIGITS.test(last))) return { kind: 'full' };
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Number(last);
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
