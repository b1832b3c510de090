import type { Developer } from './developer.js';
import type { Data, Envelope } from './envelope.js';
import { type Answer, get, type Json, post } from './http.js';
import type { CatalogEntry } from './provider.js';

export interface Provisioned {
  answer: Answer;
  /** The final instance record (after polling a `202` to `active`). */
  instance: Json;
}

/** SPEC §5.1: sends the signed request and, on `202 binding`, polls the status URL until it settles. */
export async function provision(entry: CatalogEntry, request: Envelope): Promise<Provisioned> {
  const answer = await post(entry.provision_url, request);
  if (answer.status !== 202) return { answer, instance: answer.body };
  const statusUrl = answer.body.status_url ?? `${entry.provision_url}/${answer.body.service_id}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    const status = await get(statusUrl);
    if (status.body?.status !== 'binding') return { answer, instance: status.body };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`instance still binding at ${statusUrl}`);
}

export function provisionFor(dev: Developer, entry: CatalogEntry, appId: string, extra: Data = {}): Promise<Provisioned> {
  return provision(entry, dev.provisioning(appId, entry.provider, { service_tier: 'pro_cluster', region: 'eu-central-1', ...extra }));
}
