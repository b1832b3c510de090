import { open } from 'node:fs/promises';
import { SwarmError } from '@swarm/protocol';
import { ifMatchPasses, ifNoneMatchPasses } from '@swarm/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { META_PREFIX, storedMetadata } from './metadata.js';
import { parseRange } from './range.js';
import type { ObjectRow } from './tables.js';

/** An HTTP date as a second count, or null when it is not one (RFC 9110: an invalid date is ignored). */
function httpDate(value: string | undefined): number | null {
  if (value === undefined || value.length > 64) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * Answers GET or HEAD of one object as RFC 9110 asks: validators (`ETag`, the sha256 of the
 * bytes, and `Last-Modified`), preconditions in the order of §13.2.2 (`If-Match`,
 * `If-Unmodified-Since` → 412; `If-None-Match`, `If-Modified-Since` → 304), then one `Range`
 * (206, or 416 with `Content-Range: bytes *\/size`), honoured only while `If-Range` still
 * names this representation. The body is a file stream piped with back-pressure, never read
 * into memory.
 */
export async function serveObject(request: FastifyRequest, reply: FastifyReply, row: ObjectRow, path: string): Promise<FastifyReply> {
  const size = Number(row.size);
  const updatedAt = Number(row.updated_at);
  const headers = request.headers;
  reply
    .header('etag', `"${row.sha256}"`)
    .header('last-modified', new Date(updatedAt * 1000).toUTCString())
    .header('accept-ranges', 'bytes');
  for (const [name, value] of Object.entries(storedMetadata(row.metadata))) reply.header(`${META_PREFIX}${name}`, value);

  if (headers['if-match'] !== undefined) {
    if (!ifMatchPasses(headers['if-match'], row.sha256)) throw new SwarmError('precondition_failed', 'the object does not match If-Match');
  } else {
    const since = httpDate(headers['if-unmodified-since']);
    if (since !== null && updatedAt > since)
      throw new SwarmError('precondition_failed', 'the object was modified since If-Unmodified-Since');
  }
  if (headers['if-none-match'] !== undefined) {
    if (!ifNoneMatchPasses(headers['if-none-match'], row.sha256)) return reply.code(304).send();
  } else {
    const since = httpDate(headers['if-modified-since']);
    if (since !== null && updatedAt <= since) return reply.code(304).send();
  }

  const rangeHeader = typeof headers.range === 'string' ? headers.range : undefined;
  const ifRange = headers['if-range'];
  const rangeStillValid =
    ifRange === undefined || ifRange === `"${row.sha256}"` || (typeof ifRange === 'string' && httpDate(ifRange) === updatedAt);
  const range = rangeStillValid ? parseRange(rangeHeader, size) : ({ kind: 'full' } as const);
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`);
    throw new SwarmError('range_not_satisfiable', `the object has ${size} bytes`);
  }
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : size - 1;
  reply.type(row.content_type).header('content-length', String(end - start + 1));
  if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
  if (request.method === 'HEAD') return reply.send();
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    throw new SwarmError('not_found', 'no such object');
  }
  if (size === 0) {
    await handle.close();
    return reply.send('');
  }
  return reply.send(handle.createReadStream({ start, end }));
}
