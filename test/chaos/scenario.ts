import { AUTH_RPC } from '#shared/contracts/auth';
import { ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import type { ConsumerInfo } from '@nats-io/jetstream';
import { STREAMS } from '#shared/contracts/streams';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import { uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { SIGNING_KEY, ticketingClient, type TicketingClient } from '../tickets/ticketing-setup.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { startChaosSmtpServer } from './chaos-smtp.ts';
import { verdict, type ChaosFacts, type ChaosReport } from './report.ts';
import { followMessage, type Incarnation } from './worker-logs.ts';
import { createWorkerPool } from './workers.ts';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { waitingDelayedJobs } from '../delayed-waiting.ts';

export interface ChaosOptions {
  orders: number;
  ticketsPerOrder: number;
  /** Magic-link requests, half for known users and half for unknown addresses. */
  magicLinks: number;
  /** Requests are spread evenly over this long. */
  loadSpreadMs: number;
  /** A random worker is SIGKILLed every [min, max] ms while the load and the outages last. */
  killEveryMs: [number, number];
  /** When (after the load starts) nats-server is SIGKILLed and restarted on the same store. */
  natsKillAtMs: number;
  smtpOutageAtMs: number;
  smtpOutageMs: number;
  /** How long the system may take to finish everything after the chaos stops. */
  convergeTimeoutMs: number;
  log?: (line: string) => void;
}

/** The issue's size: `npm run chaos`. */
export const LONG_CHAOS: ChaosOptions = {
  orders: 200,
  ticketsPerOrder: 5,
  magicLinks: 500,
  loadSpreadMs: 90_000,
  killEveryMs: [2_000, 5_000],
  natsKillAtMs: 40_000,
  smtpOutageAtMs: 20_000,
  smtpOutageMs: 20_000,
  convergeTimeoutMs: 300_000,
};

/** Scaled down for `npm test` (two cores shared with the rest of the suite). */
export const SHORT_CHAOS: ChaosOptions = {
  orders: 40,
  ticketsPerOrder: 5,
  magicLinks: 100,
  loadSpreadMs: 25_000,
  killEveryMs: [2_500, 4_500],
  natsKillAtMs: 12_000,
  smtpOutageAtMs: 5_000,
  smtpOutageMs: 15_000,
  convergeTimeoutMs: 120_000,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const between = ([min, max]: [number, number]) => min + Math.random() * (max - min);

/** Retries `call` until it resolves (an outage in progress), giving up after `forMs`. */
const retrying = async <T>(what: string, call: () => Promise<T>, forMs = 120_000): Promise<T> =>
  waitFor(
    async () => {
      try {
        return { value: await call() };
      } catch (error) {
        throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    },
    { timeoutMs: forMs, intervalMs: 300, what },
  ).then((r) => r.value);

const matches = (filter: string | undefined, subject: string) => {
  if (!filter) return true;
  const f = filter.split('.');
  const t = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return t.length > i;
    if (f[i] !== '*' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
};

/**
 * For the diagnosis of a consumer still owing acks: the stored messages of its own subject
 * between its ack floor and its last delivery (some may be acked ones a 2.9 server forgot it had
 * removed), and how many sequences of that range the stream reports deleted (an ack-pending entry
 * on one of those is a phantom, which the runners ack on servers that keep them).
 */
const unackedRange = async (client: TicketingClient, stream: string, info: ConsumerInfo) => {
  const stored: number[] = [];
  const from = info.ack_floor.stream_seq + 1;
  const last = Math.min(info.delivered.stream_seq, info.ack_floor.stream_seq + 2_000);
  for (let seq = from; seq <= last; seq++) {
    const m = await client.jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (m && matches(info.config.filter_subject, m.subject)) stored.push(seq);
  }
  const deleted = (await client.jsm.streams.info(stream, { deleted_details: true }).catch(() => undefined))?.state.deleted ?? [];
  return { stored, deletedInRange: deleted.filter((seq) => seq >= from && seq <= info.delivered.stream_seq).length };
};

/** Every durable consumer's pending and ack-pending counts; with `detail`, what its unacked range holds. */
const durableBacklog = async (client: TicketingClient, detail = false) => {
  const out: ChaosFacts['backlog'] = [];
  for (const stream of Object.values(STREAMS)) {
    const infos = await client.jsm.consumers.list(stream.name).next().catch(() => []);
    for (const info of infos) {
      if (!info.config.durable_name) continue;
      const range = detail && info.num_ack_pending > 0 ? await unackedRange(client, stream.name, info) : { stored: [], deletedInRange: 0 };
      // Orders' payment reminders and expiries wait for their time, on 2.9 ack-pending: not backlog.
      const waiting = info.num_ack_pending > 0 && stream.retention === 'workqueue' ? await waitingDelayedJobs(client.jsm, info) : 0;
      out.push({
        stream: stream.name,
        consumer: info.name,
        pending: info.num_pending,
        ackPending: info.num_ack_pending - waiting,
        unacked: range.stored,
        deletedInRange: range.deletedInRange,
        // For diagnosing a stuck entry: how far acks got, what was delivered, how many redeliveries.
        detail: `ack floor ${info.ack_floor.stream_seq}, delivered ${info.delivered.stream_seq}, redelivered ${info.num_redelivered}, waiting pulls ${info.num_waiting}, delayed jobs waiting for their time ${waiting}`,
        info: JSON.stringify({
          delivered: info.delivered,
          ack_floor: info.ack_floor,
          num_ack_pending: info.num_ack_pending,
          num_redelivered: info.num_redelivered,
          num_waiting: info.num_waiting,
          num_pending: info.num_pending,
          ack_wait: info.config.ack_wait,
          max_deliver: info.config.max_deliver,
        }),
      });
    }
  }
  return out;
};

/**
 * What to look at when the run did not finish cleanly: each consumer still owing work with its
 * info, and for each message it still waits for, what the workers logged about it (which worker
 * held it last, which delivery that was); each order that did not end `sent`.
 */
const diagnose = (backlog: ChaosFacts['backlog'], incarnations: Incarnation[], unsent: Array<[string, string]>): string[] => {
  const out: string[] = [];
  for (const c of backlog.filter((b) => b.pending + b.ackPending > 0)) {
    out.push(`${c.stream}/${c.consumer}: pending ${c.pending}, ack-pending ${c.ackPending}, ${c.deletedInRange} deleted sequence(s) in its unacked range; consumer info ${c.info ?? '?'}`);
    for (const seq of c.unacked.slice(0, 10)) {
      const history = followMessage(incarnations, c.stream, c.consumer, seq);
      out.push(`  seq ${seq}: ${history.length ? `${history.length} log line(s), last ones:` : 'no worker logged it'}`);
      for (const line of history.slice(-8)) out.push(`    ${line}`);
    }
  }
  for (const [id, status] of unsent.slice(0, 20)) out.push(`order ${id} ended ${status}`);
  return out;
};

/**
 * Issue 9's chaos run: the whole system as processes (gateway, auth, 2 ticketing, 2 mailer) under
 * orders and magic-link requests, while random workers are SIGKILLed and restarted, nats-server is
 * SIGKILLed once and restarted on its store, and the SMTP server refuses connections for a while.
 * Then it waits for the system to finish and reports what happened.
 */
export const runChaos = async (options: ChaosOptions): Promise<{ report: ChaosReport; facts: ChaosFacts }> => {
  const log = options.log ?? (() => undefined);
  const began = Date.now();
  const [nats, smtp] = await Promise.all([startNatsServer(), startChaosSmtpServer()]);
  await ensureConsoleState(nats.url);
  let gateway: RunningService | undefined;
  let client: TicketingClient | undefined;
  const pool = createWorkerPool(
    [
      // Debug logs: every attempt's start, so a stuck message can be followed to the worker that held it.
      { name: 'auth', service: 'auth', env: { NATS_URL: nats.url, LOG_LEVEL: 'debug' } },
      ...[1, 2].map((i) => ({
        name: `ticketing-${i}`,
        service: 'ticketing',
        env: {
          NATS_URL: nats.url,
          LOG_LEVEL: 'debug',
          TICKET_SIGNING_KEY: SIGNING_KEY,
          // Short ack-wait and backoff: a killed worker's tickets come back within seconds.
          TICKETING_ACK_WAIT_MS: '3000',
          TICKETING_BACKOFF_INITIAL_MS: '200',
          TICKETING_BACKOFF_MAX_MS: '2000',
          TICKET_MAX_ATTEMPTS: '15',
          RENDER_PROCESSES: '1',
        },
      })),
      ...[1, 2].map((i) => ({
        name: `mailer-${i}`,
        service: 'mailer',
        env: {
          NATS_URL: nats.url,
          LOG_LEVEL: 'debug',
          SMTP_URL: smtp.url,
          PUBLIC_URL: 'http://127.0.0.1:3000',
          SMTP_TIMEOUT_MS: '3000',
          // The SMTP server runs in this starved process: its answer to a message can take
          // seconds. Waiting for it (rather than retrying) is what keeps a mail from going twice;
          // it also bounds how long a killed mailer's claim holds its mail (14 + 20 + 30 s).
          SMTP_DATA_TIMEOUT_MS: '20000',
          MAIL_ACK_WAIT_MS: '5000',
          // Backoff capped at 3 s with attempts to spare: a 20 s outage plus kills must not exhaust a mail.
          MAIL_RETRY_INITIAL_MS: '300',
          MAIL_RETRY_MAX_MS: '3000',
          MAIL_MAX_ATTEMPTS: '40',
        },
      })),
    ],
    smtp,
  );
  try {
    gateway = await startService('gateway', {
      NATS_URL: nats.url,
      GATEWAY_PORT: '0',
      GATEWAY_HOST: '127.0.0.1',
      // Every request comes from 127.0.0.1: the per-address limit must allow the whole load.
      RATE_LIMIT_IP_MAX: '1000000',
      RATE_LIMIT_EMAIL_NETWORK_MAX: '50',
      RATE_LIMIT_EMAIL_MAX: '50',
    });
    await pool.start();
    client = await ticketingClient(nats.url);
    const c = client;
    const base = `http://127.0.0.1:${gateway.port}`;
    const knownUsers = Array.from({ length: Math.ceil(options.magicLinks / 2) }, (_, i) => uniqueEmail(`known${i}`));
    const unknownUsers = Array.from({ length: options.magicLinks - knownUsers.length }, (_, i) => uniqueEmail(`unknown${i}`));
    for (let i = 0; i < knownUsers.length; i += 25) {
      await Promise.all(knownUsers.slice(i, i + 25).map((email) => retrying('add user', () => c.rpc.call(AUTH_RPC.addUser, { email }))));
    }
    log(`setup done in ${Math.round((Date.now() - began) / 1000)} s: ${knownUsers.length} known users`);

    const start = Date.now();
    let clientRetries = 0;
    const requestLink = async (email: string) => {
      await retrying(`magic link for ${email}`, async () => {
        const res = await fetch(`${base}/auth/magic-link`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email }),
          signal: AbortSignal.timeout(10_000),
        }).catch((error: unknown) => {
          clientRetries++;
          throw error;
        });
        if (res.status !== 202) {
          clientRetries++;
          throw new Error(`status ${res.status}`);
        }
      });
    };
    const placeOrder = async (i: number): Promise<OrderView> => {
      const created = await retrying('create order', () =>
        c.rpc.call(ORDERS_RPC.create, {
          userId: uniqueName('user'),
          email: `order${i}@chaos.test`,
          event: `Chaos ${i}`,
          attendees: Array.from({ length: options.ticketsPerOrder }, (_, t) => ({ name: `Guest ${i}.${t + 1}` })),
        }),
      );
      if (!created.ok) throw new Error(`order ${i} refused: ${created.message}`);
      await retrying('pay order', () => c.pay(created.order));
      return created.order;
    };

    // The load: every request at its slot in the spread, all in flight together.
    const orderSlots = options.loadSpreadMs / options.orders;
    const linkSlots = options.loadSpreadMs / options.magicLinks;
    const links = [...knownUsers, ...unknownUsers].sort(() => Math.random() - 0.5);
    let loadDone = false;
    const load = Promise.allSettled([
      ...Array.from({ length: options.orders }, (_, i) => sleep(i * orderSlots).then(() => placeOrder(i))),
      ...links.map((email, i) => sleep(i * linkSlots).then(() => requestLink(email))),
    ]).finally(() => (loadDone = true));

    let natsRestarts = 0;
    const natsOutage = (async () => {
      await sleep(options.natsKillAtMs);
      log('nats-server: SIGKILL');
      await nats.kill();
      await nats.restart();
      natsRestarts++;
      log('nats-server: restarted on the same store');
    })();
    const smtpOutage = (async () => {
      await sleep(options.smtpOutageAtMs);
      log('smtp: refusing connections');
      await smtp.refuse(true);
      await sleep(options.smtpOutageMs);
      await smtp.refuse(false);
      log('smtp: accepting again');
    })();
    let outagesDone = false;
    const outages = Promise.all([natsOutage, smtpOutage]).then(() => (outagesDone = true));
    const killer = (async () => {
      while (!(loadDone && outagesDone)) {
        await sleep(between(options.killEveryMs));
        const kill = await pool.killRandom();
        if (kill) log(`kill ${kill.worker}${kill.duringSend ? ' (SMTP session open)' : ''}`);
      }
    })();
    const settled = await load;
    const placed = settled.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
    const loadFailures = settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    await Promise.all([outages, killer]);
    await pool.settle();
    log(`chaos over after ${Math.round((Date.now() - start) / 1000)} s, ${pool.kills().length} kills; waiting for the system to finish`);

    const orderIds = placed.map((o) => o.id);
    const statuses = new Map<string, string>();
    const finished = async () => {
      const mails = smtp.mails();
      const ticketMails = new Set(mails.map((m) => m.messageId));
      if (!orderIds.every((id) => [...ticketMails].some((m) => m.startsWith(`<tickets-${id}@`)))) return false;
      if (!knownUsers.every((u) => mails.some((m) => m.to.includes(u)))) return false;
      if ((await durableBacklog(c)).some((b) => b.pending + b.ackPending > 0)) return false;
      for (const id of orderIds) {
        if (statuses.get(id) === 'sent') continue;
        const reply = await c.rpc.call(ORDERS_RPC.get, { orderId: id });
        if (reply.ok) statuses.set(id, reply.order.status);
        if (statuses.get(id) !== 'sent') return false;
      }
      return true;
    };
    const converged = await waitFor(finished, { timeoutMs: options.convergeTimeoutMs, intervalMs: 1_000, what: 'the system to finish' }).then(
      () => true,
      () => false,
    );
    for (const id of orderIds) {
      if (statuses.get(id) === 'sent') continue;
      const reply = await c.rpc.call(ORDERS_RPC.get, { orderId: id }).catch(() => undefined);
      statuses.set(id, reply?.ok ? reply.order.status : 'unknown');
    }
    const deadLetters = (await listDeadLetters(c.jsm).catch(() => [])).map((d) => ({ job: d.record.job, reason: d.record.reason, error: d.record.error }));
    const backlog = await durableBacklog(c, true);
    const incarnations = pool.incarnations();
    const unsent = orderIds.flatMap((id): Array<[string, string]> => (statuses.get(id) === 'sent' ? [] : [[id, statuses.get(id) ?? 'unknown']]));
    const diagnostics = converged && unsent.length === 0 && backlog.every((b) => b.pending + b.ackPending === 0) ? [] : diagnose(backlog, incarnations, unsent);
    for (const line of diagnostics) log(`diagnose: ${line}`);
    const facts: ChaosFacts = {
      orderIds,
      orderStatus: statuses,
      readyEvents: (await c.readyEvents()).map((e) => e.orderId),
      knownUsers,
      unknownUsers,
      mails: smtp.mails(),
      kills: pool.kills(),
      natsRestarts,
      smtpOutageMs: options.smtpOutageMs,
      clientRetries,
      deadLetters,
      backlog,
      incarnations,
      diagnostics,
      converged,
      restartFailures: pool.restartFailures(),
      loadFailures,
      durationMs: Date.now() - began,
    };
    return { report: verdict(facts), facts };
  } finally {
    await pool.stopAll();
    await gateway?.kill('SIGKILL');
    await client?.close().catch(() => undefined);
    await smtp.stop();
    await nats.stop();
  }
};
