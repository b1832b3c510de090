import { SwarmError } from '@swarm/protocol';
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
