import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../otlp-receiver.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { SIGNING_KEY, ticketingClient, type TicketingClient } from '../tickets/ticketing-setup.ts';
import { newWebhookSecret, paymentSucceeded, postWebhook, signWebhook } from '../tickets/webhooks.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { scrape, valueOf } from './prometheus.ts';
import { SPAN_KIND } from './spans.ts';

let server: NatsServer;
let smtp: TestSmtpServer;
let otlp: OtlpReceiver;
let client: TicketingClient;
let ingest: RunningService;
let ticketing: RunningService;
let mailer: RunningService;
const secret = newWebhookSecret();

beforeAll(async () => {
  [server, smtp, otlp] = await Promise.all([startNatsServer(), startSmtpServer(), startOtlpReceiver()]);
  const env = { NATS_URL: server.url, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint };
  [ingest, ticketing, mailer] = await Promise.all([
    startService('webhook-ingest', { ...env, WEBHOOK_PORT: '0', WEBHOOK_SECRET: secret }),
    startService('ticketing', { ...env, TICKET_SIGNING_KEY: SIGNING_KEY }),
    startService('mailer', { ...env, SMTP_URL: smtp.url }),
  ]);
  client = await ticketingClient(server.url);
});
afterAll(async () => {
  await Promise.all([ingest, ticketing, mailer].map((s) => s?.stop()));
  await client?.close();
  await Promise.all([otlp?.close(), smtp?.stop()]);
  await server?.stop();
});

test('one order is one trace across webhook-ingest, every ticket job and the mailer; tickets.ready links to every ticket span', async () => {
  const healthUrl = (s: RunningService) => `http://127.0.0.1:${String(s.ready.healthPort)}/metrics`;
  expect((await fetch(`http://127.0.0.1:${ingest.port}/metrics`)).status).toBe(404);
  const ingestMetrics = healthUrl(ingest);
  const before = { ingest: await scrape(ingestMetrics), ticketing: await scrape(healthUrl(ticketing)), mailer: await scrape(healthUrl(mailer)) };

  const order = await client.createOrder(['Ada', 'Grace', 'Alan', 'Edsger'], { event: 'Traced Live' });
  const hook = signWebhook(secret, uniqueName('evt'), paymentSucceeded(order.id, order.amount, order.currency));
  expect((await postWebhook(`http://127.0.0.1:${ingest.port}`, hook)).status).toBe(200);
  await client.waitForStatus(order.id, 'sent', 60_000);

  const ingestSpan = await waitFor(
    () => otlp.spans().find((s) => s.service === 'webhook-ingest' && s.kind === SPAN_KIND.server && s.attributes['http.route'] === '/webhooks/payments'),
    { what: 'the webhook HTTP span' },
  );
  const inTrace = () => otlp.spans().filter((s) => s.traceId === ingestSpan.traceId);
  const ticketSpans = await waitFor(
    () => {
      const spans = inTrace().filter((s) => s.service === 'ticketing' && s.kind === SPAN_KIND.consumer && s.attributes['messaging.destination.name'] === 'tickets.generate');
      return spans.length >= 4 && inTrace().some((s) => s.service === 'mailer' && s.name === 'smtp send') ? spans : undefined;
    },
    { timeoutMs: 20_000, what: 'ticket and mailer spans in the trace' },
  );
  const services = new Set(inTrace().map((s) => s.service));
  expect([...services].sort()).toEqual(['mailer', 'ticketing', 'webhook-ingest']);
  expect(new Set(ticketSpans.map((s) => s.attributes['messaging.message.id'])).size).toBe(4);
  expect(inTrace().filter((s) => s.name === 'render ticket pdf')).toHaveLength(4);

  const ready = inTrace().find((s) => s.name === 'tickets.ready');
  expect(ready).toBeDefined();
  expect(ready!.links.map((l) => l.spanId).sort()).toEqual(ticketSpans.map((s) => s.spanId).sort());
  expect(ready!.links.every((l) => l.traceId === ingestSpan.traceId)).toBe(true);
  expect(inTrace().some((s) => s.service === 'mailer' && s.kind === SPAN_KIND.consumer && s.attributes['messaging.destination.name'] === 'tickets.ready')).toBe(true);

  const after = { ingest: await scrape(ingestMetrics), ticketing: await scrape(healthUrl(ticketing)), mailer: await scrape(healthUrl(mailer)) };
  const moved = (a: typeof after.ingest, b: typeof after.ingest, name: string, labels: Record<string, string>) => valueOf(a, name, labels) - valueOf(b, name, labels);
  expect(moved(after.ingest, before.ingest, 'handoff_http_requests_total', { route: '/webhooks/payments', status: '200' })).toBe(1);
  expect(moved(after.ticketing, before.ticketing, 'handoff_jobs_succeeded_total', { job: 'tickets.generate' })).toBe(4);
  expect(moved(after.ticketing, before.ticketing, 'handoff_jobs_started_total', { job: 'tickets.generate' })).toBeGreaterThanOrEqual(4);
  expect(moved(after.mailer, before.mailer, 'handoff_jobs_succeeded_total', {})).toBeGreaterThanOrEqual(1);
  expect(valueOf(after.ticketing, 'handoff_consumer_pending', { consumer: 'ticketing-generate' })).toBe(0);
});
