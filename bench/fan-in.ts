import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ORDERS_RPC } from '#shared/contracts/orders';
import { SUBJECTS } from '#shared/contracts/subjects';
import { paymentSucceeded, signWebhook } from '../test/tickets/webhooks.ts';
import { startChild, type BenchChild } from './child-process.ts';
import { treeCpuSeconds, type MemoryTracker } from './memory.ts';
import type { FanInResult, FanInScenarioResult } from './result.ts';
import { nowMs, summarize } from './stats.ts';

export interface FanInOptions {
  natsUrl: string;
  runs: number;
  bigOrder: number;
  /** One order of this many tickets as well (issue 18: 1,000); 0 or absent leaves it out. */
  hugeOrder?: number;
  smallOrders: number;
  smallOrderSize: number;
  workerCounts: readonly number[];
  memory?: MemoryTracker;
  progress?: (line: string) => void;
}

const LAUNCH = fileURLToPath(new URL('../services/launch.ts', import.meta.url));
const READY = /"msg":"service ready"/;
const firstLine = (error: unknown) => (error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error));

const startService = async (name: string, env: Record<string, string>): Promise<{ child: BenchChild; ready: Record<string, unknown> }> => {
  const child = startChild(name, LAUNCH, { args: [name], env: { HEALTH_PORT: '0', ...env } });
  try {
    return { child, ready: JSON.parse(await child.waitForLine(READY, 60_000)) as Record<string, unknown> };
  } catch (error) {
    await child.stop('SIGKILL');
    throw error;
  }
};

/** Watches tickets.ready on core NATS (the stream's subject) and resolves per order id. */
const readyWatcher = (nc: NatsConnection) => {
  const seen = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const sub = nc.subscribe(SUBJECTS.ticketsReady, {
    callback: (_error, msg) => {
      try {
        const orderId = (msg.json() as { orderId: string }).orderId;
        if (!seen.has(orderId)) seen.set(orderId, nowMs());
        waiters.get(orderId)?.();
      } catch {
        // Not ours to judge here; the scenario times out if its order never shows up.
      }
    },
  });
  return {
    async until(orderId: string, timeoutMs: number): Promise<number> {
      if (!seen.has(orderId)) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`tickets.ready for ${orderId} not seen within ${timeoutMs} ms`)), timeoutMs);
          waiters.set(orderId, () => (clearTimeout(timer), resolve()));
        });
        waiters.delete(orderId);
      }
      return seen.get(orderId) as number;
    },
    stop: () => sub.unsubscribe(),
  };
};

/**
 * Orders are created through ticketing's request/reply (what the gateway does for POST /orders),
 * then the clock starts and each order's signed payment webhook is posted to webhook-ingest; it
 * stops when tickets.ready has been seen for every order.
 */
const runScenario = async (
  nc: NatsConnection,
  ready: ReturnType<typeof readyWatcher>,
  ingestUrl: string,
  secret: string,
  orders: number,
  size: number,
): Promise<number> => {
  const created = await Promise.all(
    Array.from({ length: orders }, async (_, o) => {
      const request = {
        userId: `bench-user-${o}`,
        email: `bench-${o}@example.com`,
        event: 'Benchmark Night',
        attendees: Array.from({ length: size }, (_, k) => ({ name: `Attendee ${o}-${k + 1}` })),
      };
      const reply = ORDERS_RPC.create.reply.parse((await nc.request(ORDERS_RPC.create.subject, JSON.stringify(request), { timeout: 10_000 })).json());
      if (!reply.ok) throw new Error(`order not created: ${reply.code} ${reply.message}`);
      return reply.order;
    }),
  );
  const start = nowMs();
  await Promise.all(
    created.map(async (order) => {
      const hook = signWebhook(secret, `evt_${randomBytes(12).toString('hex')}`, paymentSucceeded(order.id, order.amount, order.currency));
      const res = await fetch(`${ingestUrl}/webhooks/payments`, { method: 'POST', headers: hook.headers, body: hook.body });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    }),
  );
  let last = start;
  // A generous bound: 1,000 tickets on one loaded worker take tens of seconds.
  for (const order of created) last = Math.max(last, await ready.until(order.id, 300_000));
  return last - start;
};

/** Wall time of one scenario and the CPU seconds the ticketing processes (with their render pools) used meanwhile. */
const measureScenario = async (run: () => Promise<number>, ticketing: readonly BenchChild[]): Promise<{ wallMs: number; cpuSec: number }> => {
  const cpu = () => ticketing.reduce((sum, t) => sum + treeCpuSeconds(t.pid), 0);
  const before = cpu();
  const wallMs = await run();
  return { wallMs, cpuSec: cpu() - before };
};

export const runFanIn = async (options: FanInOptions): Promise<FanInResult> => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const env = {
    NATS_URL: options.natsUrl,
    WEBHOOK_SECRET: secret,
    WEBHOOK_PORT: '0',
    WEBHOOK_HOST: '127.0.0.1',
    TICKET_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
  const nc = await connect({ servers: options.natsUrl, name: 'bench-fan-in' });
  const ready = readyWatcher(nc);
  const services: BenchChild[] = [];
  const unwatch: (() => void)[] = [];
  const scenarios: FanInScenarioResult[] = [];
  const shapes = [
    { orders: 1, size: options.bigOrder },
    { orders: options.smallOrders, size: options.smallOrderSize },
    ...(options.hugeOrder ? [{ orders: 1, size: options.hugeOrder }] : []),
  ];
  const ticketing: BenchChild[] = [];
  try {
    const ingest = await startService('webhook-ingest', env);
    services.push(ingest.child);
    if (options.memory) unwatch.push(options.memory.watch({ comparison: 'fan-in', process: 'webhook-ingest', pid: ingest.child.pid, worker: false }));
    const ingestUrl = `http://127.0.0.1:${String(ingest.ready.port)}`;
    let workers = 0;
    for (const count of options.workerCounts) {
      // Workers are added, not restarted: the second scenario runs with the first worker warm too.
      while (workers < count) {
        const started = await startService('ticketing', env);
        services.push(started.child);
        ticketing.push(started.child);
        workers++;
        if (options.memory) {
          unwatch.push(options.memory.watch({ comparison: 'fan-in', process: `ticketing #${workers}`, pid: started.child.pid, worker: true, tree: true }));
        }
      }
      // An unmeasured order first: render processes start and the JIT warms outside the figures.
      await runScenario(nc, ready, ingestUrl, secret, 1, options.smallOrderSize);
      for (const shape of shapes) {
        const id = `${shape.orders}x${shape.size}-w${count}`;
        const label = `${shape.orders === 1 ? 'one order' : `${shape.orders} orders`} of ${shape.size.toLocaleString('en-US')} tickets, ${count} ticketing worker${count > 1 ? 's' : ''}`;
        const walls: number[] = [];
        const perCore: number[] = [];
        const tickets = shape.orders * shape.size;
        try {
          for (let run = 1; run <= options.runs; run++) {
            const { wallMs: wall, cpuSec } = await measureScenario(() => runScenario(nc, ready, ingestUrl, secret, shape.orders, shape.size), ticketing);
            walls.push(wall);
            perCore.push(tickets / cpuSec);
            options.progress?.(
              `fan-in ${id} run ${run}: ${Math.round(wall)} ms, ${Math.round((tickets * 1000) / wall)} tickets/s, ${(tickets / cpuSec).toFixed(1)} tickets per ticketing CPU-second`,
            );
          }
          scenarios.push({
            id,
            label,
            workers: count,
            orders: shape.orders,
            ticketsPerOrder: shape.size,
            wallMs: summarize(walls),
            ticketsPerSec: summarize(walls.map((w) => (tickets * 1000) / w)),
            ticketsPerCpuSec: summarize(perCore),
          });
        } catch (error) {
          scenarios.push({ id, label, skipped: firstLine(error) });
          options.progress?.(`fan-in ${id} failed: ${firstLine(error)}`);
        }
      }
    }
  } finally {
    for (const u of unwatch) u();
    ready.stop();
    await nc.close();
    await Promise.all(services.map((s) => s.stop('SIGTERM', 10_000)));
  }
  return {
    method: {
      notes: [
        'Services as real processes (webhook-ingest, 1 or 2 ticketing processes with their default render pool of 2) on a fresh nats-server; default log level.',
        'Clock: from posting the signed payment webhook(s) (orders created beforehand through ticketing request/reply) to tickets.ready seen for every order; one unmeasured warm-up order per worker count.',
        'Each ticket is a real PDF (pdf-lib, QR code) stored in the object store; the aggregator counts completions with compare-and-set.',
        'Tickets per core: tickets ÷ the CPU seconds (user + system, /proc) the ticketing processes and their render pools used during the scenario, i.e. tickets per second per fully used core.',
        ...(options.hugeOrder ? [`The ${options.hugeOrder.toLocaleString('en-US')}-ticket order is created over request/reply (internal callers may order up to MAX_ORDER_TICKETS; buyers through the gateway up to MAX_ATTENDEES).`] : []),
      ],
    },
    scenarios,
  };
};
