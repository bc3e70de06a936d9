import type { FastifyInstance, FastifyReply } from 'fastify';
import { PAYMENT_SUCCEEDED, PaymentEvent, PaymentSucceededData } from '#shared/contracts/payments';
import { createApp } from '#shared/http/create-app';
import { HttpProblem } from '#shared/http/problems';
import { allIssues } from '#shared/http/zod-issues';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import type { VerifySignature } from './verify-signature.ts';

/**
 * Stores the provider's raw body durably; resolves only after JetStream's PubAck. `digest` is the
 * body's SHA-256; for a duplicate, `storedDigest` is that of the event stored first under the id
 * (absent when it could not be read back).
 */
export type StoreEvent = (
  raw: Uint8Array,
  meta: { id: string; timestamp: string },
) => Promise<{ duplicate: boolean; seq: number; digest: string; storedDigest?: string }>;

export interface IngestDeps {
  verify: VerifySignature;
  store: StoreEvent;
  isReady(): boolean;
  log: Log;
  metrics?: Metrics;
  /** Counts a webhook-id that came again with a different body. */
  idConflicts?: { inc(): void };
  bodyLimit?: number;
}

// Printable ASCII without spaces: the id becomes a NATS header value (Nats-Msg-Id).
const EVENT_ID = /^[\x21-\x7e]{1,256}$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

const malformed = (raw: Buffer): string | undefined => {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return 'the body is not valid UTF-8';
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  const event = PaymentEvent.safeParse(body);
  if (!event.success) return `not a payment event: ${allIssues(event.error, '(body)')}`;
  if (event.data.type !== PAYMENT_SUCCEEDED) return undefined;
  const data = PaymentSucceededData.safeParse(event.data.data);
  if (!data.success) return `invalid payment.succeeded data: ${allIssues(data.error)}`;
  return undefined;
};

/** The public webhook endpoint. Never listens: the bootstrap does, tests use `inject()`. */
export const buildApp = (deps: IngestDeps): FastifyInstance => {
  const app = createApp({ bodyLimit: deps.bodyLimit ?? 256 * 1024, isReady: deps.isReady, log: deps.log, metrics: deps.metrics });

  // The signature covers the exact bytes the provider sent: keep them, whatever the content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post('/webhooks/payments', async (req, reply: FastifyReply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const verification = deps.verify(raw, req.headers);
    if (!verification.ok) {
      deps.log.warn({ code: verification.code, detail: verification.detail, ip: req.ip }, 'webhook rejected');
      throw new HttpProblem(verification.code, verification.detail);
    }
    if (!EVENT_ID.test(verification.id)) throw new HttpProblem('body_malformed', 'webhook-id must be 1-256 printable characters');
    const why = malformed(raw);
    if (why) {
      deps.log.warn({ eventId: verification.id, detail: why }, 'webhook rejected: malformed body');
      throw new HttpProblem('body_malformed', why);
    }
    try {
      const stored = await deps.store(raw, verification);
      if (stored.duplicate && stored.storedDigest !== undefined && stored.storedDigest !== stored.digest) {
        // A provider retry repeats its bytes; a different body under a used id is a bug or an
        // attack on the provider's side. The stored event stands; the provider is not made to retry.
        deps.idConflicts?.inc();
        deps.log.warn(
          { eventId: verification.id, seq: stored.seq, storedSha256: stored.storedDigest, receivedSha256: stored.digest },
          'webhook-id seen before with a different body: answered as a duplicate, the new body dropped',
        );
      }
      deps.log.info({ eventId: verification.id, seq: stored.seq, duplicate: stored.duplicate }, stored.duplicate ? 'webhook replay acknowledged' : 'webhook stored');
      return reply.code(200).send({ received: true, id: verification.id, duplicate: stored.duplicate });
    } catch (error) {
      deps.log.error({ eventId: verification.id, err: error instanceof Error ? error.message : String(error) }, 'webhook not stored: JetStream unavailable; provider will retry');
      throw new HttpProblem('service_unavailable', 'The event could not be stored; retry later.', { 'retry-after': '5' });
    }
  });

  return app;
};
