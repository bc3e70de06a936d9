import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../otlp-receiver.ts';
import { createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;
let otlp: OtlpReceiver;

beforeAll(async () => {
  server = await startNatsServer();
  otlp = await startOtlpReceiver();
  fx = await createRuntimeFixture(server.url, { maxAttempts: 4, backoff: { initialMs: 50, multiplier: 2, maxMs: 200, jitter: 0 } });
  await fx.startWorker({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint });
});
afterAll(async () => {
  await fx?.close();
  await otlp?.close();
  await server?.stop();
});

test('a job that fails twice then succeeds shows three consumer spans in one trace, with attempts and errors', async () => {
  // The upstream producer's context, as a service's publish would have injected it.
  const traceId = randomBytes(16).toString('hex');
  const parentSpanId = randomBytes(8).toString('hex');
  await fx.publisher.publish(
    fx.spec.subject,
    { id: 'traced', plan: ['throw', 'throw', 'ok'], sleepMs: 0 },
    { id: 'traced', headers: { traceparent: `00-${traceId}-${parentSpanId}-01` } },
  );
  const consumerSpans = await waitFor(
    () => {
      const spans = otlp.spans().filter((s) => s.traceId === traceId && s.kind === 5);
      return spans.length >= 3 ? spans : undefined;
    },
    { timeoutMs: 15_000, what: 'three consumer spans' },
  );
  expect(otlp.requests().protobuf).toBeGreaterThan(0);
  const byAttempt = [...consumerSpans].sort((a, b) => Number(a.attributes['handoff.attempt']) - Number(b.attributes['handoff.attempt']));
  expect(byAttempt.map((s) => s.attributes['messaging.nats.delivery_count'])).toEqual([1, 2, 3]);
  for (const span of byAttempt) {
    expect(span.parentSpanId).toBe(parentSpanId);
    expect(span.attributes['messaging.system']).toBe('nats');
    expect(span.attributes['messaging.destination.name']).toBe(fx.spec.subject);
    expect(span.attributes['messaging.message.id']).toBe('traced');
  }
  expect(byAttempt.map((s) => s.status.code)).toEqual([2, 2, 0]);
  expect(byAttempt[0]!.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toMatch(/planned failure on attempt 1/);
  expect(byAttempt[1]!.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toMatch(/planned failure on attempt 2/);
  // The handler's own publishes (the test reports) are producer spans in the same trace.
  expect(otlp.spans().some((s) => s.traceId === traceId && s.kind === 4)).toBe(true);
});

test('the standard OTEL_* variables apply: http/json export and OTEL_SERVICE_NAME', async () => {
  const other = await createRuntimeFixture(server.url);
  try {
    await other.startWorker({ OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'renamed-worker' });
    await other.enqueue({ id: 'json-export', plan: ['ok'] });
    const span = await waitFor(() => otlp.spans().find((s) => s.kind === 5 && s.attributes['messaging.message.id'] === 'json-export'), {
      timeoutMs: 15_000,
      what: 'the span exported as JSON',
    });
    expect(span.service).toBe('renamed-worker');
    expect(otlp.requests().json).toBeGreaterThan(0);
  } finally {
    await other.close();
  }
});
