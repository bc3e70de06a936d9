import { STREAMS } from '#shared/contracts/streams';
import { parseEnv } from '#shared/config/env';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '#shared/nats/connect';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureStream } from '#shared/nats/ensure';
import { createPublisher } from '#shared/nats/publish';
import { installShutdown } from '#shared/service/shutdown';
import { createLogger } from '#shared/observability/logger';
import { createMetrics } from '#shared/observability/metrics';
import { buildApp } from './app.ts';
import { ingestEnv } from './config.ts';
import { createEventStore } from './store-event.ts';
import { createSignatureVerifier } from './verify-signature.ts';

const SERVICE = 'webhook-ingest';
let config;
try {
  config = parseEnv(ingestEnv, process.env);
} catch (error) {
  console.error(`${SERVICE}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const log = createLogger({ service: SERVICE, level: config.LOG_LEVEL });

const nc = await connectNats({ url: config.NATS_URL, name: SERVICE, user: config.NATS_USER, password: config.NATS_PASSWORD, log });
const connection = watchConnection(nc);
// The ingest is the stream's only writer; ensuring it here means the first webhook never finds it missing.
await ensureStream({ jsm: await jetstreamManager(nc), log, replicas: config.JS_REPLICAS }, STREAMS.PAYMENTS);
const publisher = createPublisher(jetstream(nc));

let draining = false;
const app = buildApp({
  verify: createSignatureVerifier(config.WEBHOOK_SECRET),
  isReady: () => !draining && connection.connected(),
  metrics: createMetrics({ service: SERVICE }),
  log,
  store: createEventStore(publisher, { timeoutMs: config.WEBHOOK_PUBLISH_TIMEOUT_MS }),
});

await app.listen({ port: config.WEBHOOK_PORT, host: config.WEBHOOK_HOST });
const address = app.server.address();
log.info({ port: typeof address === 'object' && address ? address.port : config.WEBHOOK_PORT }, 'service ready');

installShutdown(async () => {
  draining = true;
  await app.close();
  await nc.drain();
}, log);
