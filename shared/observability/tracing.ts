import { context, propagation, SpanKind, SpanStatusCode, trace, type Link, type Span } from '@opentelemetry/api';

/** One tracer name for the whole project; the service shows up as the resource, not here. */
export const tracer = () => trace.getTracer('handoff');

/** Trace ids of the active span, for log lines (empty outside a span). */
const NO_TRACE: { trace_id?: string; span_id?: string } = Object.freeze({});

export const traceFields = (): { trace_id?: string; span_id?: string } => {
  const ctx = trace.getActiveSpan()?.spanContext();
  // Shared when there is no span: pino only reads the mixin's result.
  return ctx && trace.isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : NO_TRACE;
};

/** Runs `fn` in a child span that records an exception and error status when `fn` throws. */
export const withSpan = async <T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
  options: { kind?: SpanKind; links?: Link[] } = {},
): Promise<T> =>
  tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes, links: options.links }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });

export const recordError = (span: Span, error: unknown) => {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
};

/** Writes the active trace context into a header record (W3C traceparent/tracestate). */
export const injectTraceHeaders = (carrier: Record<string, string>): Record<string, string> => {
  propagation.inject(context.active(), carrier);
  return carrier;
};

/** The context carried by message headers, to parent consumer spans on their producer. */
export const extractTraceContext = (headers: Readonly<Record<string, string>>) =>
  propagation.extract(context.active(), headers);

/** The W3C `traceparent` of the active span, to hand to a later step that should link to it. */
export const currentTraceparent = (): string | undefined => injectTraceHeaders({}).traceparent;

/** A link to the span whose context a `traceparent` value names (fan-in: the aggregator's links). */
export const linkFromTraceparent = (traceparent: string | undefined): Link | undefined => {
  if (!traceparent) return undefined;
  const spanContext = trace.getSpanContext(propagation.extract(context.active(), { traceparent }));
  return spanContext && trace.isSpanContextValid(spanContext) ? { context: spanContext } : undefined;
};

/**
 * Exports spans still buffered, through the globally registered provider (the OpenTelemetry API's
 * own registry), so the last spans before an exit are not lost. Gives up after `timeoutMs`.
 */
export const flushTraces = async (timeoutMs = 2_000): Promise<void> => {
  const proxy = trace.getTracerProvider() as { getDelegate?: () => unknown };
  const provider = (proxy.getDelegate?.() ?? proxy) as { forceFlush?: () => Promise<void> };
  if (typeof provider.forceFlush !== 'function') return;
  await Promise.race([provider.forceFlush().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
};
