import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';
import { OBJECT_STORES } from '#shared/contracts/buckets';
import { ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { TicketsReady } from '#shared/contracts/tickets';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { createRpcClient, type RpcClient } from '#shared/nats/rpc';
import { ownedBy } from '#shared/contracts/ownership';
import { ensureOwned } from '#shared/nats/ensure';
import { quietLog } from '../jobs-runtime.ts';
import { startProcess, type RunningProcess } from '../process.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { paymentSucceeded } from './webhooks.ts';

export const SIGNING_KEY = 'test-signing-key-0123456789abcdef0123';
const launcher = fileURLToPath(new URL('../../services/launch.ts', import.meta.url));
const faultyTicketing = fileURLToPath(new URL('../fixtures/faulty-ticketing.ts', import.meta.url));

/**
 * Starts the real ticketing service as a process and waits for it to serve; `faulty` swaps in the
 * renderer that hangs or fails on purpose for `[hang-once]`, `[fail-once]`, `[fail-always]` attendees.
 */
export const startTicketing = async (url: string, env: Record<string, string> = {}, name = 'ticketing', faulty = false): Promise<RunningProcess> => {
  const proc = startProcess(faulty ? faultyTicketing : launcher, {
    args: faulty ? [] : ['ticketing'],
    name,
    env: { NATS_URL: url, TICKET_SIGNING_KEY: SIGNING_KEY, HEALTH_PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  await proc.waitForOutput(/"msg":"service ready"/, 60_000);
  return proc;
};

/** A test client of the ticketing service: orders over its RPC, payments straight into the stream. */
export interface TicketingClient {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: Publisher;
  rpc: RpcClient;
  createOrder(attendees: string[], options?: { userId?: string; event?: string }): Promise<OrderView>;
  getOrder(id: string): Promise<OrderView>;
  pay(order: Pick<OrderView, 'id' | 'amount' | 'currency'>, options?: { amount?: number; eventId?: string }): Promise<string>;
  /** Every tickets.ready stored so far. */
  readyEvents(): Promise<TicketsReady[]>;
  tickets(): Promise<ObjectStore>;
  waitForStatus(id: string, status: OrderView['status'], timeoutMs?: number): Promise<OrderView>;
  close(): Promise<void>;
}

export const ticketingClient = async (url: string): Promise<TicketingClient> => {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const publisher = createPublisher(js, { retryForMs: 20_000 });
  const rpc = createRpcClient(nc, { timeoutMs: 10_000 });
  // The console has run once (dead letters have a stream to go to), and this client stands in for
  // webhook-ingest, whose stream the payments go to.
  for (const owner of ['console', 'webhook-ingest'] as const) await ensureOwned(nc, { jsm, log: quietLog, replicas: 1 }, ownedBy(owner));
  const getOrder = async (id: string) => {
    const reply = await rpc.call(ORDERS_RPC.get, { orderId: id });
    if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
    return reply.order;
  };
  return {
    nc,
    js,
    jsm,
    publisher,
    rpc,
    async createOrder(attendees, options = {}) {
      const reply = await waitFor(
        () => rpc.call(ORDERS_RPC.create, {
          userId: options.userId ?? uniqueName('user'),
          email: 'buyer@example.test',
          event: options.event ?? 'Handoff Live',
          attendees: attendees.map((name) => ({ name })),
        }),
        { timeoutMs: 30_000, what: 'order creation' },
      );
      if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
      return reply.order;
    },
    getOrder,
    async pay(order, options = {}) {
      const id = options.eventId ?? uniqueName('evt');
      await publisher.publishRaw(SUBJECTS.paymentReceived, new TextEncoder().encode(paymentSucceeded(order.id, options.amount ?? order.amount, order.currency)), { id });
      return id;
    },
    async readyEvents() {
      const info = await jsm.streams.info(STREAMS.TICKET_EVENTS.name).catch(() => undefined);
      if (!info || info.state.messages === 0) return [];
      const consumer = await js.consumers.get(STREAMS.TICKET_EVENTS.name, { deliver_policy: DeliverPolicy.All });
      const out: TicketsReady[] = [];
      while (out.length < info.state.messages) {
        const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          out.push(TicketsReady.parse(m.json()));
        }
        if (got === 0) break;
      }
      await consumer.delete().catch(() => undefined);
      return out;
    },
    tickets: () => new Objm(nc).open(OBJECT_STORES.tickets.name),
    waitForStatus: (id, status, timeoutMs = 30_000) =>
      waitFor(
        async () => {
          const order = await getOrder(id);
          return order.status === status ? order : undefined;
        },
        { timeoutMs, intervalMs: 200, what: `order ${id} to be ${status}` },
      ),
    close: () => nc.close(),
  };
};
