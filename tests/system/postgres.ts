import { randomBytes } from 'node:crypto';
import { dropPostgresSchema, ensurePostgresSchema } from '@swarm/runtime';

/** A fresh schema on the test PostgreSQL, as a `?schema=` URL every part can take. */
export async function freshSchema(baseUrl: string, prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  await ensurePostgresSchema(baseUrl, schema);
  const url = new URL(baseUrl);
  url.searchParams.set('schema', schema);
  return { url: url.toString(), drop: () => dropPostgresSchema(baseUrl, schema) };
}
