/**
 * Acceptance 3: a 3-node JetStream cluster on loopback configured like the manifests (cluster.conf,
 * accounts, R3 streams). The node leading a stream is SIGKILLed mid-run and restarted: every job
 * completes, none is lost, and publishers that retried across the election stored each message
 * once — first with the runtime's own job worker, then through the real ticketing service, each
 * party connected as its own NATS user.
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { ADMIN_USER } from '../../deploy/nats/permissions.ts';
import { ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { TicketsReady } from '#shared/contracts/tickets';
import { connectNats } from '#shared/nats/connect';
import { ensureConsumer, ensureOwned, ensureStream } from '#shared/nats/ensure';
import { createRpcClient } from '#shared/nats/rpc';
import { createPublisher } from '#shared/nats/publish';
import { ownedBy } from '#shared/contracts/ownership';
import { startNatsCluster, type NatsCluster } from '../nats-cluster.ts';
import { startProcess, type RunningProcess } from '../process.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { paymentSucceeded } from '../tickets/webhooks.ts';
import type { ClusterJobSpec } from './fixtures/cluster-worker.ts';
import { passwordOf } from './nats-config.ts';

let cluster: NatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
const workers: RunningProcess[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await cluster.connectAdmin();
  jsm = await jetstreamManager(nc);
  // As the console and webhook-ingest leave a cluster at their first start: the dead-letter
  // stream, the attempt log and the payments stream exist, replicated.
  for (const owner of ['console', 'webhook-ingest'] as const) await ensureOwned(nc, { jsm, log: quietLog, replicas: 3 }, ownedBy(owner));
}, 60_000);
// A failed test must not leave the next one a two-node cluster.
afterEach(async () => {
  for (const node of cluster?.nodes ?? []) if (!node.alive) await cluster.restart(node);
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await nc?.close();
  await cluster?.stop();
});

const startWorker = async (spec: ClusterJobSpec) => {
  const w = startProcess(fileURLToPath(new URL('./fixtures/cluster-worker.ts', import.meta.url)), {
    env: {
      NATS_URL: cluster.url,
      NATS_USER: ADMIN_USER,
      NATS_PASSWORD: passwordOf(cluster.passwords, ADMIN_USER),
      JS_REPLICAS: '3',
      LOG_LEVEL: 'warn',
      TEST_SPEC: JSON.stringify(spec),
    },
    name: 'cluster-worker',
  });
  workers.push(w);
  await w.waitForOutput(/^ready$/m, 60_000);
  return w;
};

test('300 jobs survive SIGKILL of the job stream leader: all complete once, none lost, retried publishes deduplicated', async () => {
  const base = uniqueName('C');
  const spec: ClusterJobSpec = {
    name: 'cluster.job',
    stream: base,
    subject: `${base.toLowerCase()}.job`,
    consumer: `${base.toLowerCase()}-worker`,
    reportSubject: `${base.toLowerCase()}.done`,
    timeoutMs: 60_000,
    maxAttempts: 10,
    backoff: { initialMs: 200, multiplier: 2, maxMs: 2_000, jitter: 0 },
    concurrency: 8,
    ackWaitMs: 10_000,
  };
  const deps = { jsm, log: quietLog, replicas: 3 };
  await ensureStream(deps, { name: spec.stream, subjects: [spec.subject], retention: 'workqueue', duplicateWindowMs: 300_000, description: 'cluster test jobs' });
  await ensureStream(deps, { name: `${spec.stream}_DONE`, subjects: [spec.reportSubject], retention: 'limits', duplicateWindowMs: 300_000, description: 'cluster test completions' });
  await ensureConsumer(deps, { ...spec, schema: undefined as never });
  expect((await jsm.streams.info(spec.stream)).config.num_replicas).toBe(3);

  await startWorker(spec);
  await startWorker(spec);

  const total = 300;
  const ids = Array.from({ length: total }, (_, i) => `job-${i}`);
  const publisher = createPublisher(jetstream(nc), { retryForMs: 60_000, timeoutMs: 2_000 });
  const publishAll = async (list: string[]) => {
    // A few publishes in flight at once, as concurrent HTTP requests would make them.
    const queue = [...list];
    const duplicates: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          const ack = await publisher.publish(spec.subject, { id, workMs: 20 }, { id });
          if (ack.duplicate) duplicates.push(id);
        }
      }),
    );
    return duplicates;
  };

  const doneCount = async () => (await jsm.streams.info(`${spec.stream}_DONE`)).state.messages;

  const firstHalf = publishAll(ids.slice(0, 150));
  await waitFor(async () => (await doneCount()) >= 30, { timeoutMs: 60_000, what: 'the first completions' });
  const leader = await cluster.streamLeader(spec.stream);
  await cluster.kill(leader);
  // The second half is published while the stream elects a new leader: publishers retry. A retry
  // whose first try was stored (its PubAck lost) comes back as a duplicate: counted below as
  // stored-once by the stream's sequence, not by the ack flags.
  await Promise.all([firstHalf, publishAll(ids.slice(150))]);
  const newLeader = await cluster.streamLeader(spec.stream);
  expect(newLeader.name).not.toBe(leader.name);

  await cluster.restart(leader);
  await cluster.waitHealthy([spec.stream, `${spec.stream}_DONE`]);

  await waitFor(async () => (await doneCount()) >= total, { timeoutMs: 90_000, intervalMs: 250, what: `${total} completions` });

  // Every job id completed, and nothing else did.
  const done = new Set<string>();
  const reader = await jetstream(nc).consumers.get(`${spec.stream}_DONE`);
  for await (const m of await reader.fetch({ max_messages: total + 50, expires: 5_000 })) {
    done.add(m.json<{ id: string }>().id);
    if (m.info.pending === 0) break;
  }
  expect([...done].sort()).toEqual([...ids].sort());
  expect(await doneCount()).toBe(total);

  // Work queue drained: every job acked, none waiting, none stuck in a consumer.
  await waitFor(async () => (await jsm.streams.info(spec.stream)).state.messages === 0, { timeoutMs: 30_000, what: 'the work queue to drain' });
  const consumer = await jsm.consumers.info(spec.stream, spec.consumer);
  expect(consumer.num_pending).toBe(0);
  expect(consumer.num_ack_pending).toBe(0);

  // Each job was stored exactly once although publishers retried across the election, and the
  // deduplication state survived the leader change: publishing every id again stores nothing.
  expect((await jsm.streams.info(spec.stream)).state.last_seq).toBe(total);
  expect((await publishAll(ids)).length).toBe(total);
  expect((await jsm.streams.info(spec.stream)).state.last_seq).toBe(total);
});

test('30 orders through the real ticket flow survive SIGKILL of the TICKETS leader: one tickets.ready each, nothing lost', async () => {
  const ticketing = startProcess(fileURLToPath(new URL('../../services/launch.ts', import.meta.url)), {
    args: ['ticketing'],
    name: 'ticketing',
    echo: process.env.ECHO === '1',
    env: {
      NATS_URL: cluster.url,
      NATS_USER: 'ticketing',
      NATS_PASSWORD: passwordOf(cluster.passwords, 'ticketing'),
      JS_REPLICAS: '3',
      TICKET_SIGNING_KEY: 'cluster-test-signing-key-0123456789abcdef',
      RENDER_PROCESSES: '2',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'info',
    },
  });
  workers.push(ticketing);
  await ticketing.waitForOutput(/"msg":"service ready"/, 60_000);

  // The gateway's user creates orders over request/reply; the webhook-ingest's user stores payments.
  const gateway = await connectNats({ url: cluster.url, name: 'gateway', user: 'gateway', password: passwordOf(cluster.passwords, 'gateway'), log: quietLog });
  const ingest = await connectNats({ url: cluster.url, name: 'webhook-ingest', user: 'webhook-ingest', password: passwordOf(cluster.passwords, 'webhook-ingest'), log: quietLog });
  try {
    const rpc = createRpcClient(gateway, { timeoutMs: 10_000 });
    const orders: OrderView[] = [];
    for (let i = 0; i < 30; i++) {
      const reply = await rpc.call(ORDERS_RPC.create, {
        userId: uniqueName('user'),
        email: `buyer${i}@example.test`,
        event: 'Handoff Cluster Night',
        attendees: [{ name: `Guest ${i}` }],
      });
      if (!reply.ok) throw new Error(reply.message);
      orders.push(reply.order);
    }

    // As the ingest does: the provider's event id is the Nats-Msg-Id. Where the ingest answers 503
    // and the provider retries with the same id, this publisher retries with the same id.
    const payments = createPublisher(jetstream(ingest), { retryForMs: 60_000, timeoutMs: 2_000 });
    const eventIds = new Map(orders.map((o) => [o.id, `evt_${o.id}`]));
    const pay = async (list: OrderView[]) => {
      const duplicates: string[] = [];
      await Promise.all(
        list.map(async (order) => {
          const body = new TextEncoder().encode(paymentSucceeded(order.id, order.amount, order.currency));
          const ack = await payments.publishRaw(SUBJECTS.paymentReceived, body, { id: eventIds.get(order.id)! });
          if (ack.duplicate) duplicates.push(order.id);
        }),
      );
      return duplicates;
    };

    const readyEvents = async () => (await jsm.streams.info(STREAMS.TICKET_EVENTS.name)).state.messages;
    await pay(orders.slice(0, 15));
    await waitFor(async () => (await readyEvents()) >= 3, { timeoutMs: 120_000, intervalMs: 250, what: 'the first tickets.ready' });
    expect((await jsm.streams.info(STREAMS.TICKETS.name)).config.num_replicas).toBe(3);
    const leader = await cluster.streamLeader(STREAMS.TICKETS.name);
    await cluster.kill(leader);
    // Payments published during the election (a retried one may come back as a duplicate).
    await pay(orders.slice(15));
    await cluster.restart(leader);

    await waitFor(async () => (await readyEvents()) >= orders.length, { timeoutMs: 180_000, intervalMs: 500, what: '30 tickets.ready' });
    await cluster.waitHealthy([STREAMS.TICKETS.name, STREAMS.TICKET_EVENTS.name, STREAMS.PAYMENTS.name]);

    const perOrder = new Map<string, number>();
    const reader = await jetstream(nc).consumers.get(STREAMS.TICKET_EVENTS.name);
    const total = await readyEvents();
    let seen = 0;
    for await (const m of await reader.fetch({ max_messages: total, expires: 5_000 })) {
      const ready = TicketsReady.parse(m.json());
      perOrder.set(ready.orderId, (perOrder.get(ready.orderId) ?? 0) + 1);
      expect(ready.tickets).toHaveLength(1);
      if (++seen === total) break;
    }
    expect([...perOrder.keys()].sort()).toEqual(orders.map((o) => o.id).sort());
    expect([...perOrder.values()].every((n) => n === 1)).toBe(true);

    // Each payment stored once although publishes were retried across the election; a provider's
    // late retries are duplicates, and the orders are complete.
    expect((await jsm.streams.info(STREAMS.PAYMENTS.name)).state.last_seq).toBe(orders.length);
    expect((await pay(orders)).length).toBe(orders.length);
    for (const order of orders) {
      const reply = await rpc.call(ORDERS_RPC.get, { orderId: order.id });
      expect(reply.ok && reply.order.tickets).toEqual({ total: 1, generated: 1 });
    }
  } finally {
    await gateway.close();
    await ingest.close();
  }
  // PDF rendering of 30 tickets on a shared 2-core machine, plus an election: a generous ceiling.
}, 360_000);
