import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AUTH_RPC } from '#shared/contracts/auth';
import { createRpcClient } from '#shared/nats/rpc';
import { linkIn, to, tokenOf, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../otlp-receiver.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';
import { scrape, valueOf } from './prometheus.ts';
import { ancestry, SPAN_KIND } from './spans.ts';

let server: NatsServer;
let smtp: TestSmtpServer;
let otlp: OtlpReceiver;
let nc: NatsConnection;
let gateway: RunningService;
let auth: RunningService;
let mailer: RunningService;

beforeAll(async () => {
  [server, smtp, otlp] = await Promise.all([startNatsServer(), startSmtpServer(), startOtlpReceiver()]);
  const env = { NATS_URL: server.url, SMTP_URL: smtp.url, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, GATEWAY_PORT: '0', PUBLIC_URL: 'http://localhost:3000' };
  [gateway, auth, mailer] = await Promise.all([startService('gateway', env), startService('auth', env), startService('mailer', env)]);
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  await Promise.all([gateway, auth, mailer].map((s) => s?.stop()));
  await nc?.close();
  await Promise.all([otlp?.close(), smtp?.stop()]);
  await server?.stop();
});

const healthUrl = (s: RunningService) => `http://127.0.0.1:${String(s.ready.healthPort)}`;
const gatewayUrl = () => `http://127.0.0.1:${gateway.port}`;

test('one magic-link request is one trace from the HTTP span through auth and the mailer to the SMTP send; logs carry its trace id and no secret', async () => {
  const email = uniqueEmail('traced');
  const added = await createRpcClient(nc, { timeoutMs: 5_000 }).call(AUTH_RPC.addUser, { email });
  expect(added.ok).toBe(true);
  const before = {
    gateway: await scrape(`${healthUrl(gateway)}/metrics`),
    auth: await scrape(`${healthUrl(auth)}/metrics`),
    mailer: await scrape(`${healthUrl(mailer)}/metrics`),
  };

  const res = await fetch(`${gatewayUrl()}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  expect(res.status).toBe(202);
  const [mail] = await smtp.waitForMessages(1, { match: to(email) });
  const link = linkIn(mail!);
  // A JSON client signs in by posting the token (a GET only shows the confirmation page).
  const verified = await fetch(`${gatewayUrl()}/auth/verify`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ token: tokenOf(link) }),
  });
  expect(verified.status).toBe(200);
  const sessionId = /handoff_session=([^;]+)/.exec(verified.headers.get('set-cookie') ?? '')?.[1];
  expect(sessionId).toBeTruthy();

  // The SMTP send's span, and its chain of parents up to the gateway's HTTP server span.
  const smtpSpan = await waitFor(() => otlp.spans().find((s) => s.service === 'mailer' && s.name === 'smtp send'), { timeoutMs: 15_000, what: 'the smtp span' });
  const http = await waitFor(
    () => {
      const chain = ancestry(otlp.spans(), smtpSpan);
      const root = chain.at(-1)!;
      return root.service === 'gateway' && root.kind === SPAN_KIND.server ? chain : undefined;
    },
    { timeoutMs: 15_000, what: 'the chain from the smtp span to the HTTP span' },
  );
  const traceId = smtpSpan.traceId;
  const services = new Set(otlp.spans().filter((s) => s.traceId === traceId).map((s) => s.service));
  expect([...services].sort()).toEqual(['auth', 'gateway', 'mailer']);
  expect(http.every((s) => s.traceId === traceId)).toBe(true);
  // HTTP → publish → auth attempt → publish → mailer attempt → SMTP, in that order from the root down.
  const kinds = http.map((s) => `${s.service}:${s.kind}`).reverse();
  expect(kinds[0]).toBe(`gateway:${SPAN_KIND.server}`);
  expect(kinds).toContain(`gateway:${SPAN_KIND.producer}`);
  expect(kinds).toContain(`auth:${SPAN_KIND.consumer}`);
  expect(kinds).toContain(`auth:${SPAN_KIND.producer}`);
  expect(kinds).toContain(`mailer:${SPAN_KIND.consumer}`);
  expect(kinds.at(-1)).toBe(`mailer:${SPAN_KIND.client}`);
  expect(http.find((s) => s.kind === SPAN_KIND.consumer && s.service === 'auth')?.attributes['messaging.destination.name']).toBe('auth.magic_link.requested');

  // Log lines of the traced work carry the trace id.
  const lines = (s: RunningService) => s.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  await waitFor(() => lines(mailer).some((l) => l.msg === 'job done' && l.trace_id === traceId), { what: "the mailer's job line" });
  expect(lines(auth).find((l) => l.msg === 'job done' && l.job === 'auth.magic_link')?.trace_id).toBe(traceId);
  expect(lines(auth).find((l) => l.msg === 'magic link issued; mail job queued')?.trace_id).toBe(traceId);
  expect(lines(mailer).find((l) => l.msg === 'mail sent')?.trace_id).toBe(traceId);
  expect(lines(gateway).find((l) => l.msg === 'request' && l.route === '/auth/magic-link')?.trace_id).toBe(traceId);
  // Generally: every line about a job, and every request line of a traced route, has a trace id.
  const untraced = [
    ...[...lines(auth), ...lines(mailer)].filter((l) => l.jobId !== undefined),
    ...lines(gateway).filter((l) => l.msg === 'request' && !['/healthz', '/readyz', '/metrics'].includes(String(l.route))),
  ].filter((l) => typeof l.trace_id !== 'string');
  expect(untraced).toEqual([]);

  // No secret in any log line or span.
  const everything = [gateway, auth, mailer].map((s) => s.output()).join('\n') + JSON.stringify(otlp.spans());
  expect(everything).not.toContain(tokenOf(link));
  expect(everything).not.toContain(sessionId!);
  expect(everything).not.toContain(email);

  // Metrics moved with the work.
  const after = {
    gateway: await scrape(`${healthUrl(gateway)}/metrics`),
    auth: await scrape(`${healthUrl(auth)}/metrics`),
    mailer: await scrape(`${healthUrl(mailer)}/metrics`),
  };
  const requests = (s: typeof before.gateway) => valueOf(s, 'handoff_http_requests_total', { route: '/auth/magic-link', status: '202' });
  expect(requests(after.gateway) - requests(before.gateway)).toBe(1);
  const done = (s: typeof before.auth, job: string) => valueOf(s, 'handoff_jobs_succeeded_total', { job });
  expect(done(after.auth, 'auth.magic_link') - done(before.auth, 'auth.magic_link')).toBe(1);
  expect(done(after.mailer, 'mail.send') - done(before.mailer, 'mail.send')).toBe(1);
  expect(valueOf(after.mailer, 'handoff_consumer_ack_pending', { consumer: 'mailer-send' })).toBe(0);
  expect(after.auth.some((s) => s.name === 'handoff_job_duration_seconds_count')).toBe(true);
  // Metrics are served on the internal health port only, never on the public one.
  expect((await fetch(`${gatewayUrl()}/metrics`)).status).toBe(404);
});

test('/readyz goes false when NATS is down and true again after', async () => {
  const probes = [`${gatewayUrl()}/readyz`, `${healthUrl(auth)}/readyz`, `${healthUrl(mailer)}/readyz`];
  const statuses = async () => Promise.all(probes.map(async (url) => (await fetch(url)).status));
  expect(await statuses()).toEqual([200, 200, 200]);
  await server.kill();
  await waitFor(async () => (await statuses()).every((s) => s === 503), { timeoutMs: 15_000, what: 'every service unready' });
  expect((await fetch(`${gatewayUrl()}/healthz`)).status).toBe(200);
  await server.restart();
  await waitFor(async () => (await statuses()).every((s) => s === 200), { timeoutMs: 20_000, what: 'every service ready again' });
});
