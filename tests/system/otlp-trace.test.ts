import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createTestDeveloper, eventually, TestNetwork } from '@swarm/dev-env';
import { postJson } from '@swarm/runtime';

/*
 * Issue 16, done when: the spans of one provisioning arrive over OTLP (a real OTLP/HTTP JSON
 * receiver, here in the test) and form one trace across every hop: developer → service →
 * registry (Master key) → registry (binding).
 */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
}

interface OtlpValue {
  stringValue?: string;
}
interface OtlpBody {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: OtlpValue }> };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number }> }>;
  }>;
}

/** Ids arrive as hex in OTLP/JSON; base64 is accepted too (what protobuf's JSON mapping writes). */
const hexId = (id: string | undefined) => (!id ? '' : /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex'));

function otlpReceiver(spans: ReceivedSpan[]): Server {
  return createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces' || !String(request.headers['content-type']).includes('json')) {
        response.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpBody;
      for (const resource of body.resourceSpans ?? []) {
        const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              service,
              traceId: hexId(span.traceId),
              spanId: hexId(span.spanId),
              parentSpanId: hexId(span.parentSpanId),
              name: span.name,
              kind: span.kind,
            });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
}

describe('one provisioning is one trace over OTLP', () => {
  const spans: ReceivedSpan[] = [];
  const receiver = otlpReceiver(spans);
  let network: TestNetwork;

  before(async () => {
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    // The standard variables: every part of this process exports to the receiver.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    network = await TestNetwork.create({});
  });
  after(async () => {
    await network?.close();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('carries the developer’s traceparent through the service to both registry calls', async () => {
    const developer = await createTestDeveloper(network.registry.url);
    const service = network.services['cms-article']!;
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const rootSpan = '1122334455667788';
    const { status } = await postJson(service.catalogEntry.provision_url, developer.provisionRequest(service.provider), {
      headers: { traceparent: `00-${traceId}-${rootSpan}-01` },
    });
    assert.equal(status, 201);

    const trace = await eventually(
      'the spans of every hop',
      async () => {
        const found = spans.filter((span) => span.traceId === traceId);
        const names = new Set(found.map((span) => `${span.service} ${span.name}`));
        const complete = ['cms-article POST /v1/instances', 'registry GET /v1/apps/:app_id/master-key', 'registry POST /v1/bindings'].every(
          (name) => names.has(name),
        );
        return complete ? found : undefined;
      },
      30_000,
      200,
    );
    // One tree: the provisioning span is the developer's child, every other span has its parent in the trace.
    const ids = new Set(trace.map((span) => span.spanId));
    const provisioning = trace.find((span) => span.name === 'POST /v1/instances')!;
    assert.equal(provisioning.parentSpanId, rootSpan);
    for (const span of trace) {
      if (span !== provisioning) assert.ok(ids.has(span.parentSpanId), `${span.service} ${span.name} has its parent in the trace`);
    }
    // A registry hop's parent is the service's client span for that call, itself under the provisioning span.
    const binding = trace.find((span) => span.service === 'registry' && span.name === 'POST /v1/bindings')!;
    const client = trace.find((span) => span.spanId === binding.parentSpanId)!;
    assert.equal(client.service, 'cms-article');
    assert.equal(client.parentSpanId, provisioning.spanId);
    assert.deepEqual(new Set(trace.map((span) => span.service)), new Set(['cms-article', 'registry']));
  });
});
