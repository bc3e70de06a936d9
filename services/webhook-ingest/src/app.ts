import Fastify, { type FastifyInstance } from 'fastify';
import { PAYMENT_SUCCEEDED, PaymentEvent, PaymentSucceededData } from '#shared/contracts/payments';
import { registerOperations } from '#shared/http/operations';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import { problem, type ErrorCode } from './errors.ts';
import type { VerifySignature } from './verify-signature.ts';

/** Stores the provider's raw body durably; resolves only after JetStream's PubAck. */
export type StoreEvent = (raw: Uint8Array, meta: { id: string; timestamp: string }) => Promise<{ duplicate: boolean; seq: number }>;

export interface IngestDeps {
  verify: VerifySignature;
  store: StoreEvent;
  isReady(): boolean;
  log: Log;
  metrics?: Metrics;
  bodyLimit?: number;
}

// Printable ASCII without spaces: the id becomes a NATS header value (Nats-Msg-Id).
const EVENT_ID = /^[\x21-\x7e]{1,256}$/;

const malformed = (raw: Buffer): string | undefined => {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'the body is not JSON';
  }
  const event = PaymentEvent.safeParse(body);
  if (!event.success) return `not a payment event: ${event.error.issues.map((i) => `${i.path.join('.') || '(body)'} ${i.message}`).join('; ')}`;
  if (event.data.type !== PAYMENT_SUCCEEDED) return undefined;
  const data = PaymentSucceededData.safeParse(event.data.data);
  if (!data.success) return `invalid payment.succeeded data: ${data.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`;
  return undefined;
};

/** The public webhook endpoint. Never listens: main.ts does, tests use `inject()`. */
export const buildApp = (deps: IngestDeps): FastifyInstance => {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit ?? 256 * 1024,
    // Errors raised before routing (a malformed URL) skip the error handler; answer them as problems
    // too (found by test/fuzz/webhook-ingest.fuzz.test.ts).
    frameworkErrors: (error, _req, reply) =>
      void (reply as import('fastify').FastifyReply).code(400).type('application/problem+json').send(problem('body_malformed', error.message)),
  });

  // The signature covers the exact bytes the provider sent: keep them, whatever the content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const send = (reply: import('fastify').FastifyReply, code: ErrorCode, detail?: string) => {
    const body = problem(code, detail);
    return reply.code(body.status).type('application/problem+json').send(body);
  };

  app.setNotFoundHandler((_req, reply) => send(reply, 'not_found'));
  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, 'body_too_large');
    if (error.statusCode && error.statusCode < 500) return send(reply, 'body_malformed', error.message);
    deps.log.error({ err: error.message }, 'webhook request failed');
    return send(reply, 'internal');
  });

  registerOperations(app, { isReady: deps.isReady, metrics: deps.metrics });

  app.post('/webhooks/payments', async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verification = deps.verify(raw, req.headers);
    if (!verification.ok) {
      deps.log.warn({ code: verification.code, detail: verification.detail, ip: req.ip }, 'webhook rejected');
      return send(reply, verification.code, verification.detail);
    }
    if (!EVENT_ID.test(verification.id)) return send(reply, 'body_malformed', 'webhook-id must be 1-256 printable characters');
    const why = malformed(raw);
    if (why) {
      deps.log.warn({ eventId: verification.id, detail: why }, 'webhook rejected: malformed body');
      return send(reply, 'body_malformed', why);
    }
    try {
      const stored = await deps.store(raw, verification);
      deps.log.info({ eventId: verification.id, seq: stored.seq, duplicate: stored.duplicate }, stored.duplicate ? 'webhook replay acknowledged' : 'webhook stored');
      return reply.code(200).send({ received: true, id: verification.id, duplicate: stored.duplicate });
    } catch (error) {
      deps.log.error({ eventId: verification.id, err: error instanceof Error ? error.message : String(error) }, 'webhook not stored: JetStream unavailable; provider will retry');
      return reply.header('retry-after', '5').code(503).type('application/problem+json').send(problem('unavailable'));
    }
  });

  return app;
};
