import { fileURLToPath } from 'node:url';
import { Objm } from '@nats-io/obj';
import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { ORDERS_RPC, ORDERS_RPC_QUEUE, orderExpiryJob, orderReminderJob } from '#shared/contracts/orders';
import { paymentReceivedJob } from '#shared/contracts/payments';
import { generateTicketJob, ticketGeneratedJob, ticketsMailFailedJob, ticketsSentJob } from '#shared/contracts/tickets';
import { worker } from '#shared/jobs/workers';
import { bucketUsage, openBucket, recordBucket } from '#shared/nats/kv';
import { rpcRoute } from '#shared/nats/rpc';
import { createProcessPool } from '#shared/process-pool/pool';
import { defineService, type ServiceContext, type Started } from '#shared/service/run-service';
import { ticketingEnv, withTiming, type TicketingConfig } from './config.ts';
import { createGenerateTicket } from './handlers/generate-ticket.ts';
import { createOnOrderExpiryDue } from './handlers/order-expiry.ts';
import { createOnOrderReminderDue } from './handlers/order-reminder.ts';
import { createOrdersRpc } from './handlers/orders-rpc.ts';
import { createOnPaymentReceived } from './handlers/payment-received.ts';
import { createOnCompletionDeadLettered, createOnPaymentDeadLettered, createOnTicketDeadLettered } from './handlers/ticket-dead-lettered.ts';
import { createOnTicketsMailFailed } from './handlers/tickets-mail-failed.ts';
import { createOnTicketsSent } from './handlers/tickets-sent.ts';
import { createOnTicketGenerated } from './order-completion.ts';
import { createLatestOrders } from './latest-orders.ts';
import { announcingOrders, announcingProgress, createOrderChanges } from './order-changes.ts';
import { createOrderDeadlines } from './order-deadlines.ts';
import { createOrderStore } from './orders-store.ts';
import { createProgressStore } from './progress-store.ts';
import type { RenderInput } from './render-ticket.ts';
import { createTicketStore } from './ticket-store.ts';

/**
 * A render allocates fast (pdf-lib, fontkit subsets), and V8 grew each render process's young
 * generation to its 16 MB semi-spaces: 167–184 MB peak RSS per process over 200 tickets. With 2 MB
 * semi-spaces the peak is 109 MB at the same CPU time (7.9 s for 200 tickets either way; issue 18).
 */
const RENDER_V8_FLAGS = ['--max-semi-space-size=2'] as const;

/** The parts a test may swap (e.g. a renderer that hangs on purpose); production uses the defaults. */
export interface TicketingParts {
  /** A process-pool module whose default export renders a ticket PDF. */
  renderModule: string;
}

const defaultParts = (): TicketingParts => ({
  renderModule: fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './render-ticket.ts' : './render-ticket.js', import.meta.url)),
});

/** ticketing: orders, one render job per ticket, and the per-order aggregator (fan-in). */
export const startTicketing = async (ctx: ServiceContext<TicketingConfig>, parts: TicketingParts = defaultParts()): Promise<Started> => {
  const { nc, config, publisher, log } = ctx;
  const jobs = {
    payments: withTiming(paymentReceivedJob, config),
    generate: withTiming(generateTicketJob, config, { timeoutMs: config.TICKET_TIMEOUT_MS, maxAttempts: config.TICKET_MAX_ATTEMPTS, concurrency: config.TICKET_CONCURRENCY }),
    aggregate: withTiming(ticketGeneratedJob, config),
    sent: withTiming(ticketsSentJob, config),
    mailFailed: withTiming(ticketsMailFailedJob, config),
    reminder: withTiming(orderReminderJob, config),
    expiry: withTiming(orderExpiryJob, config),
  };
  const orderStore = createOrderStore(recordBucket(await openBucket(nc, BUCKETS.orders), ctx.jsm, BUCKETS.orders.name), undefined, bucketUsage(ctx.jsm, BUCKETS.orders));
  const progressStore = createProgressStore(await openBucket(nc, BUCKETS.ticketProgress));
  // Every status move and counted ticket is announced on orders.changed.<id> (live views).
  const changes = createOrderChanges({ orders: orderStore, progress: progressStore, publisher });
  const orders = announcingOrders(orderStore, changes);
  const progress = announcingProgress(progressStore, changes);
  const store = createTicketStore(await new Objm(nc).open(OBJECT_STORES.tickets.name));
  const renderer = createProcessPool<RenderInput, Uint8Array>({ module: parts.renderModule, size: config.RENDER_PROCESSES, warm: true, v8Flags: RENDER_V8_FLAGS });
  const latest = createLatestOrders({ jsm: ctx.jsm, bucket: BUCKETS.orders.name });
  const deadlines = createOrderDeadlines({ scheduler: ctx.jobs.scheduler, reminderAfterMs: config.ORDER_REMINDER_AFTER_MS, expiresAfterMs: config.ORDER_EXPIRES_AFTER_MS });
  const rpc = createOrdersRpc({ orders, latest, progress, price: { perTicket: config.TICKET_PRICE, currency: config.CURRENCY }, deadlines, log });
  const generate = createGenerateTicket({ store, render: (input, signal) => renderer.run(input, signal), publisher, signingKey: config.TICKET_SIGNING_KEY });
  return {
    workers: [
      worker(jobs.payments, createOnPaymentReceived({ orders, progress, publisher }), createOnPaymentDeadLettered({ orders, log })),
      worker(jobs.generate, generate, createOnTicketDeadLettered({ orders, log })),
      worker(jobs.aggregate, createOnTicketGenerated({ progress, orders, store, publisher }), createOnCompletionDeadLettered({ orders, log })),
      worker(jobs.sent, createOnTicketsSent({ orders })),
      worker(jobs.mailFailed, createOnTicketsMailFailed({ orders })),
      worker(jobs.reminder, createOnOrderReminderDue({ orders, publisher })),
      worker(jobs.expiry, createOnOrderExpiryDue({ orders })),
    ],
    rpc: { queue: ORDERS_RPC_QUEUE, routes: [rpcRoute(ORDERS_RPC.create, rpc.create), rpcRoute(ORDERS_RPC.get, rpc.get), rpcRoute(ORDERS_RPC.list, rpc.list)] },
    close: () => renderer.close(),
    ready: { renderProcesses: config.RENDER_PROCESSES, generate: { timeoutMs: jobs.generate.timeoutMs, maxAttempts: jobs.generate.maxAttempts } },
  };
};

export default defineService({ name: 'ticketing', env: ticketingEnv, start: (ctx) => startTicketing(ctx) });
