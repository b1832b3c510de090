import { continueTrace, type ExportedSpan, type TraceContext, type TraceParent } from './trace-context.js';

export type SpanKindName = 'server' | 'client' | 'internal';

/** Starts the spans of one part and sends them over OTLP; built by `openTracing` only when asked for. */
export interface Tracing {
  /** A span of `kind` under `parent` (a new trace without one); its context names it as the parent of what follows. */
  start(name: string, kind: SpanKindName, parent: TraceParent | null, attributes?: Record<string, string | number>): TraceContext;
  /** Sends what is still buffered and stops. */
  shutdown(): Promise<void>;
}

/** OTLP is on when the standard variable names a collector (the SDK's own rule). */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) && env.OTEL_SDK_DISABLED !== 'true';
}

/**
 * The part's tracer exporting over OTLP/HTTP (JSON), or null when no collector is named. The
 * SDK is imported here and only here, on demand: a part that does not export spans loads none
 * of it. No context manager is registered (it would install an AsyncLocalStorage): every span
 * is started with its parent given explicitly.
 */
export async function openTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | null> {
  if (!tracingWanted(env)) return null;
  const [api, sdk, exporterModule, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName }),
    // The exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself; the batch
    // processor reads OTEL_BSP_* (delay, queue size: a bounded queue, dropped past it).
    spanProcessors: [new sdk.BatchSpanProcessor(new exporterModule.OTLPTraceExporter())],
  });
  const tracer = provider.getTracer('swarm');
  const kinds: Record<SpanKindName, number> = {
    server: api.SpanKind.SERVER,
    client: api.SpanKind.CLIENT,
    internal: api.SpanKind.INTERNAL,
  };
  const tracing: Tracing = {
    start(name, kind, parent, attributes) {
      const context = parent
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
            traceId: parent.traceId,
            spanId: parent.spanId,
            traceFlags: parent.flags,
            isRemote: true,
          })
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: kinds[kind], ...(attributes ? { attributes } : {}) }, context);
      const { traceId, spanId, traceFlags } = span.spanContext();
      return { traceId, spanId, flags: traceFlags, span: span as ExportedSpan, tracing };
    },
    shutdown: () => provider.shutdown(),
  };
  return tracing;
}

/**
 * The context of one hop: a span when the part exports them, else the caller's trace continued
 * with a span id of this hop.
 */
export function startHop(
  tracing: Tracing | null | undefined,
  name: string,
  kind: SpanKindName,
  parent: TraceParent | null,
  attributes?: Record<string, string | number>,
): TraceContext {
  return tracing ? tracing.start(name, kind, parent, attributes) : continueTrace(parent);
}

/** Ends a hop's span (if it has one) with the HTTP status it ended with. */
export function endHop(trace: TraceContext | undefined, status?: number, error?: string): void {
  const span = trace?.span;
  if (!span) return;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  // OpenTelemetry's status codes: 2 = ERROR. A server span errs on 5xx, a client one on any failure.
  if (error !== undefined || (status !== undefined && status >= 500)) span.setStatus({ code: 2, ...(error ? { message: error } : {}) });
  span.end();
}
