import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildApp } from '../../services/webhook-ingest/src/app.ts';
import { createSignatureVerifier } from '../../services/webhook-ingest/src/verify-signature.ts';
import { quietLog } from '../runtime-setup.ts';
import { newWebhookSecret, signWebhook } from '../tickets/webhooks.ts';
import { body, checkResponse, contentType, headerValue, method, oddHeaders, query, segment, shapedBody } from './arbitraries.ts';

// Issue 9, fuzzing: webhook-ingest in-process with its real signature verifier and a store that
// always works, so the property is about HTTP handling alone. Part of the requests are correctly
// signed, so the body checks behind the signature are fuzzed too.
const SECRET = newWebhookSecret();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
let app: FastifyInstance;
let stored = 0;

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  app = buildApp({
    verify: createSignatureVerifier([SECRET]),
    store: async () => ({ duplicate: false, seq: ++stored, digest: '' }),
    isReady: () => true,
    log: quietLog,
  });
  await app.ready();
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await app?.close();
});

const webhookId = fc.oneof(fc.stringMatching(/^evt_[A-Za-z0-9]{1,20}$/), headerValue, fc.constant(''), fc.constant('x'.repeat(300)));

/** Signed over the exact bytes, with any id and body: the verifier passes, the body rules decide. */
const signed = fc.record({ id: webhookId, body: fc.oneof(shapedBody.map((v) => JSON.stringify(v)), fc.string({ maxLength: 200 })), contentType }).map(({ id, body: raw, contentType: type }) => {
  const hook = signWebhook(SECRET, id, raw);
  return { method: 'POST' as const, url: '/webhooks/payments', headers: { ...hook.headers, ...(type === undefined ? {} : { 'content-type': type }) }, payload: raw };
});

/** Anything at all: forged, missing or garbage signature headers on any route. */
const unsigned = fc
  .record({
    method,
    path: fc.oneof(fc.constantFrom('/webhooks/payments', '/healthz', '/readyz', '/webhooks/payments/', '/webhooks'), segment.map((s) => `/webhooks/${s}`)),
    query,
    contentType,
    body,
    signature: fc.record(
      {
        'webhook-id': webhookId,
        'webhook-timestamp': fc.oneof(fc.integer().map(String), fc.constant(String(Math.floor(Date.now() / 1000))), headerValue),
        'webhook-signature': fc.oneof(headerValue, fc.base64String({ maxLength: 60 }).map((s) => `v1,${s}`), fc.constantFrom('v1,', 'v1a,abc', ',', 'v1,a v1,b v2,c')),
      },
      { requiredKeys: [] },
    ),
    headers: oddHeaders,
  })
  .map((r) => ({
    method: r.method,
    url: `${r.path}${r.query}`,
    headers: { ...r.headers, ...r.signature, ...(r.contentType === undefined ? {} : { 'content-type': r.contentType }) },
    ...(r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD' ? { payload: r.body } : {}),
  }));

test('webhook-ingest: thousands of hostile requests get no 5xx, and every 4xx is problem+json with a code', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.oneof({ weight: 2, arbitrary: unsigned }, { weight: 1, arbitrary: signed }), async (request) => {
      const status = await checkResponse(app, request);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }),
    { numRuns: 3_000 },
  );
  console.log(`webhook-ingest fuzz: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
  // Both sides of the signature were exercised: accepted events, malformed bodies and rejections.
  for (const seen of [200, 400, 401, 404]) expect(statuses.get(seen) ?? 0, `status ${seen}`).toBeGreaterThan(0);
  expect(unhandled).toEqual([]);
}, 120_000);
