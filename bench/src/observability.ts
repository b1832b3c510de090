import { createServer } from 'node:http';
import { type NetworkSummary, spawnScript, stop } from '@swarm/dev-env';
import { type BenchResult, result } from './harness.js';
import { compareHttp, spreadOf } from './http-load.js';
import { articleInstance, developerApp } from './swarm.js';

/**
 * The cost of being observed: the token-protected GET of cms-article on a swarm with request
 * metrics and spans exported over OTLP (every request sampled, sent to a receiver in this
 * process) vs the same GET on a swarm with both off (SWARM_METRICS=off, no OTLP endpoint).
 * Both swarms run at once in processes of their own, measured in alternating rounds.
 */
export async function benchObservability(): Promise<BenchResult[]> {
  let spans = 0;
  const receiver = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => {
      spans += chunk.toString('latin1').split('"spanId"').length - 1;
    });
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const address = receiver.address();
  const endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const script = new URL('./swarm-process.ts', import.meta.url).pathname;
  const start = (env: NodeJS.ProcessEnv) => spawnScript<NetworkSummary>('swarm', script, [], { stderr: 'inherit', env });
  const { OTEL_EXPORTER_OTLP_ENDPOINT: _unset, ...plain } = process.env;
  const off = await start({ ...plain, SWARM_METRICS: 'off' });
  const on = await start({ ...plain, SWARM_METRICS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
  try {
    const target = async (swarm: NetworkSummary) => {
      const app = await developerApp(swarm.urls.registry, 'bench-observed');
      const { endpointUrl, token } = await articleInstance(swarm.urls.registry, app);
      const created = await fetch(`${endpointUrl}/articles`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Observed', body: 'A token-protected read.' }),
      });
      const { id } = (await created.json()) as { id: string };
      return { url: `${endpointUrl}/articles/${id}`, headers: { authorization: `Bearer ${token}` } };
    };
    const comparison = await compareHttp(await target(on.ready), await target(off.ready), { rounds: 11 });
    return [
      result(
        'token-protected GET, metrics and OTLP spans on (cms-article)',
        comparison.subject.perSecond,
        'req/s',
        'the same GET with metrics and tracing off',
        comparison.baseline.perSecond,
        0.9,
        `every request a span (${spans} exported during the run); p50 ${comparison.subject.p50Ms} ms, p99 ${comparison.subject.p99Ms} ms; ${spreadOf(comparison.ratios)}`,
      ),
    ];
  } finally {
    await stop(on);
    await stop(off);
    receiver.closeAllConnections();
    receiver.close();
  }
}
