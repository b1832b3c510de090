import { type BenchResult, result } from './harness.js';
import { compareHttp, spreadOf } from './http-load.js';
import { articleInstance, developerApp, type SwarmUnderTest } from './swarm.js';

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
