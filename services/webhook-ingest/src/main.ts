import { Counter } from 'prom-client';
import { defineService } from '#shared/service/run-service';
import { buildApp } from './app.ts';
import { ingestEnv } from './config.ts';
import { createEventStore } from './store-event.ts';
import { createSignatureVerifier } from './verify-signature.ts';

/** webhook-ingest: verify the provider's signature, store the event durably, answer fast. */
export default defineService({
  name: 'webhook-ingest',
  env: ingestEnv,
  async start({ config, publisher, jsm, isReady, metrics, log }) {
    const idConflicts = new Counter({
      name: 'handoff_webhook_id_conflicts_total',
      help: 'Webhooks whose id was already stored with a different body (answered as duplicates, not stored)',
      registers: [metrics.registry],
    });
    const app = buildApp({
      verify: createSignatureVerifier(config.WEBHOOK_SECRET),
      store: createEventStore(publisher, jsm, { timeoutMs: config.WEBHOOK_PUBLISH_TIMEOUT_MS }),
      idConflicts,
      isReady,
      metrics,
      log,
    });
    return { http: { app, port: config.WEBHOOK_PORT, host: config.WEBHOOK_HOST } };
  },
});
