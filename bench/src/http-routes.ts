import { userToken } from '@swarm/client';
import { type BenchResult, result } from './harness.js';
import type { LoadRequest } from './http-load.js';
import { compareHttp, spreadOf } from './http-load.js';
import { articleInstance, type DeveloperApp, developerApp, type SwarmUnderTest } from './swarm.js';

const DISTINCT_USERS = 1000;

/** `count` articles and `count` users' tokens, paired: one request each, walked in turn by the load. */
async function distinctReads(registryUrl: string, app: DeveloperApp, endpointUrl: string, count: number): Promise<LoadRequest[]> {
  const path = new URL(endpointUrl).pathname;
  const requests: LoadRequest[] = [];
  for (let i = 0; i < count; i++) {
    const { access_token: token } = await userToken(
      { registry: registryUrl },
      { appId: app.appId, sub: `bench-user-${i}`, master: app.master, roles: ['reader', 'editor'] },
    );
    const created = await fetch(`${endpointUrl}/articles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `Article ${i}`, body: 'One of many.' }),
    });
    const { id } = (await created.json()) as { id: string };
    requests.push({ path: `${path}/articles/${id}`, headers: { authorization: `Bearer ${token}` } });
  }
  return requests;
}

/**
 * Token-protected GET on a domain service vs the same server's /healthz (a hello-world route),
 * and the registry's Service DNS over HTTP vs the registry's /healthz.
 */
export async function benchHttpRoutes(swarm: SwarmUnderTest): Promise<BenchResult[]> {
  const app = await developerApp(swarm.urls.registry, 'bench-http');
  const { endpointUrl, token } = await articleInstance(swarm.urls.registry, app);
  const created = await fetch(`${endpointUrl}/articles`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Benchmark', body: 'A token-protected read.' }),
  });
  const { id } = (await created.json()) as { id: string };

  const tokenComparison = await compareHttp(
    { url: `${endpointUrl}/articles/${id}`, headers: { authorization: `Bearer ${token}` } },
    { url: `${swarm.urls['cms-article']}/healthz` },
  );
  // Many users reading many articles: every request another token and another article, so the
  // verified-token cache and the read cache work across 1 000 keys each instead of one.
  const distinct = await distinctReads(swarm.urls.registry, app, endpointUrl, DISTINCT_USERS);
  const distinctComparison = await compareHttp(
    { url: new URL(endpointUrl).origin, requests: distinct },
    { url: `${swarm.urls['cms-article']}/healthz` },
  );
  const lookupComparison = await compareHttp(
    { url: `${swarm.urls.registry}/v1/apps/${encodeURIComponent(app.appId)}/services` },
    { url: `${swarm.urls.registry}/healthz` },
  );
  const { subject: tokenGet, baseline: hello } = tokenComparison;
  const { subject: lookup, baseline: registryHello } = lookupComparison;
  return [
    result(
      'token-protected GET /articles/{id} (cms-article)',
      tokenGet.perSecond,
      'req/s',
      'GET /healthz, same server',
      hello.perSecond,
      0.8,
      `p50 ${tokenGet.p50Ms} ms, p99 ${tokenGet.p99Ms} ms; ${spreadOf(tokenComparison.ratios)}`,
    ),
    result(
      `token-protected GET, ${DISTINCT_USERS} distinct users and articles (cms-article)`,
      distinctComparison.subject.perSecond,
      'req/s',
      'GET /healthz, same server',
      distinctComparison.baseline.perSecond,
      null,
      `p50 ${distinctComparison.subject.p50Ms} ms, p99 ${distinctComparison.subject.p99Ms} ms; ${spreadOf(distinctComparison.ratios)}`,
    ),
    result(
      'Service DNS over HTTP (GET /v1/apps/{app_id}/services)',
      lookup.perSecond,
      'req/s',
      'GET /healthz, same registry',
      registryHello.perSecond,
      0.7,
      `p50 ${lookup.p50Ms} ms, p99 ${lookup.p99Ms} ms; ${spreadOf(lookupComparison.ratios)}`,
    ),
  ];
}
