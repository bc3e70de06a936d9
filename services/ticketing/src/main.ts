import { fileURLToPath } from 'node:url';
import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { ORDERS_RPC, ORDERS_RPC_QUEUE } from '#shared/contracts/orders';
import { paymentReceivedJob } from '#shared/contracts/payments';
import { STREAMS } from '#shared/contracts/streams';
import { generateTicketJob, ticketGeneratedJob, ticketsSentJob } from '#shared/contracts/tickets';
import { parseEnv } from '#shared/config/env';
import { installShutdown } from '#shared/service/shutdown';
import { connectNats } from '#shared/nats/connect';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureBucket, ensureObjectStore } from '#shared/nats/ensure';
import { createProcessPool } from '#shared/process-pool/pool';
import { rpcRoute, serveRpc } from '#shared/nats/rpc';
import { createMessaging, ensureDeclarations, startWorkers, worker } from '#shared/jobs/workers';
import { startHealthServer } from '#shared/observability/health';
import { createLogger } from '#shared/observability/logger';
import { createJobObserver } from '#shared/jobs/observe-attempts';
import { consumerSampler, createMetrics } from '#shared/observability/metrics';
import { ticketingEnv, withTiming } from './config.ts';
import { createGenerateTicket } from './handlers/generate-ticket.ts';
import { createOrdersRpc } from './handlers/orders-rpc.ts';
import { createOnPaymentReceived } from './handlers/payment-received.ts';
import { createOnCompletionDeadLettered, createOnPaymentDeadLettered, createOnTicketDeadLettered } from './handlers/ticket-dead-lettered.ts';
import { createOnTicketsSent } from './handlers/tickets-sent.ts';
import { createOnTicketGenerated } from './order-completion.ts';
import { createOrderStore } from './orders-store.ts';
import { createProgressStore } from './progress-store.ts';
import type { RenderInput } from './render-ticket.ts';
import { createTicketStore } from './ticket-store.ts';

const SERVICE = 'ticketing';
let config;
try {
  config = parseEnv(ticketingEnv, process.env);
} catch (error) {
  console.error(`${SERVICE}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const log = createLogger({ service: SERVICE, level: config.LOG_LEVEL });
if (config.TICKETING_TEST_FAULTS) log.warn({}, 'TICKETING_TEST_FAULTS=1: test-only render faults are enabled; never set this in production');

const nc = await connectNats({ url: config.NATS_URL, name: SERVICE, user: config.NATS_USER, password: config.NATS_PASSWORD, log });
const connection = watchConnection(nc);
const messaging = await createMessaging(nc, { replicas: config.JS_REPLICAS, log });

const jobs = {
  payments: withTiming(paymentReceivedJob, config),
  generate: withTiming(generateTicketJob, config, {
    timeoutMs: config.TICKET_TIMEOUT_MS,
    maxAttempts: config.TICKET_MAX_ATTEMPTS,
    concurrency: config.TICKET_CONCURRENCY,
  }),
  aggregate: withTiming(ticketGeneratedJob, config),
  sent: withTiming(ticketsSentJob, config),
};
await ensureDeclarations(messaging, {
  streams: [STREAMS.PAYMENTS, STREAMS.TICKETS, STREAMS.TICKET_EVENTS],
  jobs: Object.values(jobs) as never[],
});
const orders = createOrderStore(await ensureBucket(nc, BUCKETS.orders, config.JS_REPLICAS));
const progress = createProgressStore(await ensureBucket(nc, BUCKETS.ticketProgress, config.JS_REPLICAS));
const store = createTicketStore(await ensureObjectStore(nc, OBJECT_STORES.tickets, config.JS_REPLICAS));

const renderer = createProcessPool<RenderInput, Uint8Array>({
  module: fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './render-ticket.ts' : './render-ticket.js', import.meta.url)),
  size: config.RENDER_PROCESSES,
});

const rpc = createOrdersRpc({ orders, progress, price: { perTicket: config.TICKET_PRICE, currency: config.CURRENCY }, log });
const rpcServer = serveRpc(
  nc,
  [rpcRoute(ORDERS_RPC.create, rpc.create), rpcRoute(ORDERS_RPC.get, rpc.get), rpcRoute(ORDERS_RPC.list, rpc.list)],
  { queue: ORDERS_RPC_QUEUE, log },
);

const metrics = createMetrics({ service: SERVICE, sampleConsumers: consumerSampler(messaging.jsm, Object.values(jobs)) });
const workers = await startWorkers(
  messaging,
  [
  worker(jobs.payments, createOnPaymentReceived({ orders, progress, publisher: messaging.publisher }), createOnPaymentDeadLettered({ orders, log })),
  worker(
    jobs.generate,
    createGenerateTicket({
      store,
      render: (input, signal) => renderer.run(input, signal),
      publisher: messaging.publisher,
      signingKey: config.TICKET_SIGNING_KEY,
      testFaults: config.TICKETING_TEST_FAULTS,
    }),
    createOnTicketDeadLettered({ orders, log }),
  ),
  worker(jobs.aggregate, createOnTicketGenerated({ progress, orders, store, publisher: messaging.publisher }), createOnCompletionDeadLettered({ orders, log })),
  worker(jobs.sent, createOnTicketsSent({ orders })),
  ],
  { log, observer: createJobObserver(metrics) },
);

let draining = false;
const health = await startHealthServer({ port: config.HEALTH_PORT, checks: { isReady: () => !draining && connection.connected(), metrics: () => metrics.render() }, log });
log.info({ healthPort: health.port, pid: process.pid, renderProcesses: config.RENDER_PROCESSES, generate: { timeoutMs: jobs.generate.timeoutMs, maxAttempts: jobs.generate.maxAttempts } }, 'service ready');

installShutdown(async () => {
  draining = true;
  await rpcServer.stop();
  await workers.stop(config.SHUTDOWN_GRACE_MS);
  await renderer.close();
  await health.close();
  await nc.drain();
}, log);
