import { provision } from '@swarm/client';
import { createTestDeveloper } from '@swarm/dev-env';
import { type BenchResult, result } from './harness.js';
import { compareHttp, httpLoad, type LoadRequest, spreadOf } from './http-load.js';
import type { SwarmUnderTest } from './swarm.js';
import { cycle } from './zipf.js';

const ARTICLES = 1000;
const PER_ROUND = Number(process.env.BENCH_COLD_TOKENS ?? 8000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** autocannon builds each connection's first request before it starts: a few tokens more are drawn than sent. */
const SLACK = 64;

/**
 * Token-protected GET with every token seen for the first time: each request pays the Ed25519
 * verify of its token (and the article it names is one of 1 000), against the same server's
 * /healthz sending as many requests. The load hands every token out once across all its
 * connections (a shared walk), so no token repeats in the run.
 */
export async function benchTokenCold(swarm: SwarmUnderTest): Promise<BenchResult[]> {
  const developer = await createTestDeveloper(swarm.urls.registry, { namespace: 'bench-cold' });
  const instance = await provision(
    { registry: swarm.urls.registry },
    { appId: developer.appId, serviceType: 'cms-article', master: developer.master, tier: 'free', region: 'local' },
  );
  const endpoint = instance.endpoint_url as string;
  const writer = await developer.token({ roles: ['editor'], sub: 'bench-writer' });
  const ids: string[] = [];
  for (let i = 0; i < ARTICLES; i++) {
    const created = await fetch(`${endpoint}/articles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `Article ${i}`, body: 'Read by someone new.' }),
    });
    ids.push(((await created.json()) as { id: string }).id);
  }
  // Every token another user's: signed here with the app's delegated Auth key, as the Auth
  // Provider would sign them, all before the load starts.
  const path = new URL(endpoint).pathname;
  const total = (ROUNDS + 1) * (PER_ROUND + SLACK);
  const requests: LoadRequest[] = [];
  for (let i = 0; i < total; i++) {
    const token = await developer.token({ roles: ['reader'], sub: `cold-user-${i}` });
    requests.push({ path: `${path}/articles/${ids[i % ARTICLES]}`, headers: { authorization: `Bearer ${token}` } });
  }
  const origin = new URL(endpoint).origin;
  const next = cycle(requests);
  const healthz = { url: `${swarm.urls['cms-article']}/healthz`, amount: PER_ROUND };
  // Warm-up with tokens of its own: the JIT, the connection pools and the instance cache settle.
  await httpLoad(origin, { next, amount: PER_ROUND });
  await httpLoad(healthz.url, { amount: PER_ROUND });
  const cold = await compareHttp({ url: origin, next, amount: PER_ROUND }, healthz, { rounds: ROUNDS, warmUp: false });
  return [
    result(
      `token-protected GET, cold: every token new (${PER_ROUND} per round, ${ARTICLES} articles) (cms-article)`,
      cold.subject.perSecond,
      'req/s',
      'GET /healthz, same server, as many requests',
      cold.baseline.perSecond,
      null,
      `p50 ${cold.subject.p50Ms} ms, p99 ${cold.subject.p99Ms} ms; ${spreadOf(cold.ratios)}`,
    ),
  ];
}
