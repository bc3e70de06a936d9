import { trace } from '@opentelemetry/api';
import { expect, test } from 'vitest';
import { startTelemetry } from '#shared/observability/telemetry';

test('without an OTLP endpoint nothing is exported, but spans still get trace ids (for logs and jobs show)', async () => {
  const telemetry = startTelemetry({ service: 'probe', version: '0.0.0', env: {} });
  try {
    expect(telemetry.exporting).toBe(false);
    const span = trace.getTracer('handoff').startSpan('probe');
    expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
    span.end();
  } finally {
    await telemetry.shutdown();
  }
});
