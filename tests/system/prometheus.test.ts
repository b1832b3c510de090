import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, eventually, freePort, provisionInstance, TestNetwork, tempDir } from '@swarm/dev-env';

/*
 * Issue 16, done when: a real Prometheus scrapes every part of a running swarm (with the
 * operator's metrics token) and answers PromQL for provisionings and heartbeats.
 */
const TOKEN = 'prometheus-scrape-token-0123456789';
const installed = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

describe('Prometheus scrapes every part of a swarm', {
  skip: installed ? false : 'prometheus is not installed (Debian package prometheus)',
}, () => {
  const dir = tempDir('prometheus');
  let network: TestNetwork;
  let prometheus: ChildProcess | undefined;
  let api = '';

  const query = async (promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as {
      status: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    assert.equal(body.status, 'success', promql);
    return body.data.result;
  };
  const scalar = async (promql: string) => Number((await query(promql))[0]?.value[1] ?? Number.NaN);

  before(async () => {
    // Every part of this process reads the operator's metrics token from here.
    process.env.SWARM_METRICS_TOKEN = TOKEN;
    network = await TestNetwork.create({ heartbeatIntervalSeconds: 1 });
    const targets = Object.entries(network.urls).map(([part, url]) => ({ part, host: new URL(url).host }));
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      ...targets.flatMap(({ part, host }) => [
        `  - job_name: ${part}`,
        '    authorization:',
        `      credentials: ${TOKEN}`,
        '    static_configs:',
        `      - targets: ['${host}']`,
      ]),
    ].join('\n');
    writeFileSync(join(dir.path, 'prometheus.yml'), `${config}\n`);
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir.path, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir.path, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    await eventually('prometheus answers', async () => ((await fetch(`${api}/-/ready`).catch(() => null))?.ok ? true : undefined), 60_000);
  });
  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await network?.close();
    delete process.env.SWARM_METRICS_TOKEN;
    dir.remove();
  });

  it('finds every part up, a provisioning, heartbeats and a healthy instance', async () => {
    const developer = await createTestDeveloper(network.registry.url);
    await provisionInstance(network.services['cms-article']!, developer);

    const parts = Object.keys(network.urls).length;
    await eventually('every part scraped', async () => ((await scalar('sum(up)')) === parts ? true : undefined), 60_000, 500);
    await eventually(
      'the provisioning counted',
      async () => ((await scalar('sum(swarm_provisionings_total{job="cms-article",outcome="active"})')) >= 1 ? true : undefined),
      30_000,
      500,
    );
    await eventually(
      'the binding counted',
      async () => ((await scalar('sum(swarm_bindings_total{job="registry",outcome="bound"})')) >= 1 ? true : undefined),
      30_000,
      500,
    );
    await eventually(
      'heartbeats received',
      async () =>
        (await scalar('sum(increase(swarm_heartbeats_received_total{job="registry",outcome="ok"}[1m]))')) > 0 ? true : undefined,
      30_000,
      500,
    );
    await eventually(
      'a healthy instance',
      async () => ((await scalar('swarm_instances{job="registry",health="healthy"}')) >= 1 ? true : undefined),
      30_000,
      500,
    );
    // Labels stay bounded: no series names an app.
    const series = await query('{__name__=~"swarm_.+"}');
    assert.ok(series.length > 0);
    for (const { metric } of series) {
      for (const value of Object.values(metric)) assert.doesNotMatch(value, /local\.swarm\./, JSON.stringify(metric));
    }
  });
});
