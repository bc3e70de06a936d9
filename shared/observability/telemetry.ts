import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { FastifyOtelInstrumentation } from '@fastify/otel';

type Env = Record<string, string | undefined>;

export interface Telemetry {
  /** Exports what is buffered and stops; call last on shutdown. */
  shutdown(): Promise<void>;
  exporting: boolean;
}

/**
 * Starts OpenTelemetry for one service process. Must run before the service's own modules load
 * (services/launch.ts does it), so fastify's instrumentation sees the app being created.
 *
 * The standard variables work as the specification says: OTEL_EXPORTER_OTLP_ENDPOINT (or
 * …_TRACES_ENDPOINT), OTEL_EXPORTER_OTLP_PROTOCOL (`http/protobuf` by default, `http/json`),
 * OTEL_SERVICE_NAME (overrides the service's own name), OTEL_TRACES_SAMPLER(_ARG), OTEL_SDK_DISABLED.
 * With no endpoint, spans are still created (trace ids reach the logs) but nothing is exported.
 */
export const startTelemetry = (options: { service: string; version: string; env: Env }): Telemetry => {
  const { env } = options;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: ${protocol} is not supported here (use http/protobuf or http/json)`);
  }
  const processors: SpanProcessor[] = [];
  if (endpoint) {
    // The exporters append /v1/traces to the generic endpoint themselves; a signal-specific one is used as is.
    const exporter: SpanExporter = protocol === 'http/json' ? new JsonExporter() : new ProtoExporter();
    processors.push(new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 }));
  } else {
    // The SDK registers no tracer provider without a span processor, and every span would then be
    // a no-op with an all-zero trace id: no trace ids in logs, none in `jobs show`.
    processors.push(new NoopSpanProcessor());
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? options.service,
      [ATTR_SERVICE_VERSION]: options.version,
    }),
    serviceName: env.OTEL_SERVICE_NAME ?? options.service,
    spanProcessors: processors,
    instrumentations: [
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // One span per request: a span per lifecycle hook (cookie parsing, onSend…) costs CPU on
        // every request and buries the publish and RPC spans that explain where time went.
        instrumentHooks: false,
        instrumentHandler: false,
        // The request URL would carry secrets in its query (`/auth/verify?token=…`): keep the path only.
        requestHook: (span, request) => span.setAttribute('url.path', request.url.split('?')[0] ?? ''),
        // Probes and scrapes every few seconds would bury the traces that matter.
        ignorePaths: (route) => route.url === '/healthz' || route.url === '/readyz' || route.url === '/metrics',
      }),
    ],
    // Metrics are served as Prometheus text by each service; logs go to stdout through pino.
    metricReaders: [],
    logRecordProcessors: [],
  });
  if (env.OTEL_SDK_DISABLED !== 'true') sdk.start();
  return { shutdown: () => sdk.shutdown().catch(() => undefined), exporting: endpoint !== undefined };
};
