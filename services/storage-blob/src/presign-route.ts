import { MAX_BODY_BYTES, readJsonBody, SwarmError } from '@swarm/protocol';
import { requireRole } from '@swarm/runtime';
import { type InstanceInfo, requestClaims } from '@swarm/service-kit';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseObjectKey } from './object-key.js';
import { DEFAULT_PRESIGN_SECONDS, MAX_PRESIGN_SECONDS, PRESIGN_METHODS, type Presigner } from './presign.js';

export const PresignRequest = z.strictObject({
  key: z.string().min(1).max(1024),
  method: z.enum(PRESIGN_METHODS),
  expires_in: z.number().int().min(1).max(MAX_PRESIGN_SECONDS).optional(),
});

/**
 * The JSON body of `POST /presign`, read here: this scope's bodies are streams its handlers
 * read themselves (an object `PUT` of `application/json` must not be buffered by a parser).
 */
export async function presignBody(raw: AsyncIterable<Buffer>): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new SwarmError('payload_too_large', `body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) throw new SwarmError('invalid_request', 'a JSON body is required');
  return readJsonBody(Buffer.concat(chunks));
}

/** A key as a URL path: each segment percent-encoded, as `parseObjectKey` reads it back. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/**
 * `POST /presign`: a URL for one method on one object, usable without a token until it
 * expires. Whoever asks must hold the role the method needs (a reader may not hand out uploads).
 */
export function presignAnswer(
  presigner: Presigner,
  endpoint: string,
  request: FastifyRequest,
  instance: InstanceInfo,
  body: z.infer<typeof PresignRequest>,
): { url: string; method: string; expires_at: number } {
  requireRole(requestClaims(request).roles, body.method === 'PUT' ? 'editor' : 'reader');
  const encoded = encodeKey(body.key);
  const key = parseObjectKey(encoded);
  if (key !== body.key) throw new SwarmError('invalid_request', 'key is not a valid object key');
  const expires = Math.floor(Date.now() / 1000) + (body.expires_in ?? DEFAULT_PRESIGN_SECONDS);
  return {
    url: `${endpoint}/objects/${encoded}?${presigner.query(body.method, instance.serviceId, key, expires)}`,
    method: body.method,
    expires_at: expires,
  };
}
