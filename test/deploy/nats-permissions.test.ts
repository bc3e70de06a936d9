/**
 * Acceptance 2 (the server side): deploy/nats/ loads in a real nats-server, each service's user
 * can do what its service does — with the shared client code the services use — and cannot do
 * what it must not.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADMIN_USER, NEEDS, PASSWORD_VARIABLES, renderAccounts, SERVICES, type ServiceName } from '../../deploy/nats/permissions.ts';
import { resolveNatsServerBin } from '../../deploy/nats/nats-server-binary.ts';
import { AUTH_JOBS } from '#shared/contracts/auth';
import { MAIL_JOBS } from '#shared/contracts/mail';
import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { ownedBy } from '#shared/contracts/ownership';
import { STREAMS } from '#shared/contracts/streams';
import { orderChangedSubject, SUBJECTS } from '#shared/contracts/subjects';
import { generateTicketJob } from '#shared/contracts/tickets';
import { connectNats } from '#shared/nats/connect';
import { createObjectReader } from '#shared/nats/object-reader';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import { openJobsRuntime, type JobsRuntime } from '#shared/jobs/workers';
import { ensureConsumer, ensureOwned } from '#shared/nats/ensure';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { natsDir, passwordOf, randomPasswords, singleServerConfig } from './nats-config.ts';

const passwords = randomPasswords();
let server: NatsServer;
const connections: NatsConnection[] = [];

const connectAs = async (user: string, name = user) => {
  const nc = await connectNats({ url: server.url, name, user, password: passwordOf(passwords, user), log: quietLog });
  connections.push(nc);
  return nc;
};

beforeAll(async () => {
  server = await startNatsServer({ config: singleServerConfig(passwords) });
});
afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await server?.stop();
});

describe('the committed configs', () => {
  test('accounts.conf is what deploy/nats/generate.ts renders from the contracts', () => {
    expect(readFileSync(`${natsDir}accounts.conf`, 'utf8')).toBe(renderAccounts());
  });

  test('nats-server -t accepts server.conf and cluster.conf when every password is set', () => {
    const env = { ...process.env, ...passwords, POD_NAME: 'nats-0' };
    for (const file of ['server.conf', 'cluster.conf']) {
      const run = spawnSync(resolveNatsServerBin(), ['-t', '-c', file], { cwd: natsDir, env, encoding: 'utf8' });
      expect(run.status, `${file}: ${run.stderr}`).toBe(0);
    }
  });

  test('nats-server refuses the config when a password is missing from its environment', () => {
    const env: Record<string, string | undefined> = { ...process.env, ...passwords };
    delete env[PASSWORD_VARIABLES[1]!];
    const run = spawnSync(resolveNatsServerBin(), ['-t', '-c', 'server.conf'], { cwd: natsDir, env, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(PASSWORD_VARIABLES[1]);
  });

  test('a wrong password is rejected', async () => {
    await expect(
      connectNats({ url: server.url, name: 'mailer', user: 'mailer', password: 'not-the-password', log: quietLog }),
    ).rejects.toThrow(/authoriz/i);
  });
});

/** Everything a service declares and touches at start, done as the service does it. */
const startLikeService = async (name: ServiceName): Promise<{ nc: NatsConnection; runtime?: JobsRuntime }> => {
  const needs = NEEDS[name];
  const nc = await connectAs(name);
  const jsm = await jetstreamManager(nc);
  // What the bootstrap ensures (what the service owns), then what each runner binds (its consumers).
  await ensureOwned(nc, { jsm, log: quietLog, replicas: 1 }, { streams: needs.streams, buckets: needs.buckets, objectStores: needs.objectStores });
  for (const job of needs.jobs) await ensureConsumer({ jsm, log: quietLog, replicas: 1 }, job);
  return { nc, runtime: needs.runtime ? await openJobsRuntime(nc, quietLog) : undefined };
};

describe('each service user can do what its service needs', () => {
  // The console first (it owns the dead-letter stream and the attempt log every worker writes),
  // then owners before their users: a consumer needs its stream, a publisher its stream, a reader
  // the store it reads. The console's own checks come last: it publishes replays to every job stream.
  // Ticketing publishes payment reminders into the mailer's stream and the mailer reads ticketing's
  // PDFs, so no order of the two serves both: the mailer's streams come first, as it creates them.
  beforeAll(async () => {
    await startLikeService('console');
    const mailer = await connectAs('mailer');
    await ensureOwned(mailer, { jsm: await jetstreamManager(mailer), log: quietLog, replicas: 1 }, { streams: NEEDS.mailer.streams, buckets: [], objectStores: [] });
  });
  const order: ServiceName[] = ['webhook-ingest', 'ticketing', 'mailer', 'auth', 'gateway', 'console'];
  expect([...order].sort()).toEqual([...SERVICES].sort());

  for (const name of order) {
    test(`${name}: ensures its declarations, publishes with a PubAck, uses its buckets and consumers`, async () => {
      const needs = NEEDS[name];
      const started = await startLikeService(name);
      const { nc } = started;
      const js = jetstream(nc);

      for (const pattern of needs.publishes) {
        // A wildcard permission (`orders.changed.*`) is exercised on one concrete subject.
        const subject = pattern.replaceAll('*', 'probe');
        const ack = await js.publish(subject, new TextEncoder().encode('{}'), { msgID: `${name}:${subject}` });
        expect(ack.seq).toBeGreaterThan(0);
      }

      for (const stream of needs.watches ?? []) await expectCanWatch(js, stream.name, stream.subjects[0]!.replaceAll('*', `watched-by-${name}`));

      for (const bucket of needs.buckets) {
        const kv = await new Kvm(nc).open(bucket.name);
        await kv.put('probe.key', 'v1');
        expect((await kv.get('probe.key'))?.string()).toBe('v1');
        const keys: string[] = [];
        for await (const key of await kv.keys()) keys.push(key);
        expect(keys).toContain('probe.key');
        await kv.delete('probe.key');
      }

      for (const store of needs.objectStores) {
        const os = await new Objm(nc).open(store.name);
        await os.putBlob({ name: `${name}/probe.pdf` }, new Uint8Array([1, 2, 3]));
        await os.putBlob({ name: `${name}/probe.pdf` }, new Uint8Array([4, 5, 6]));
        expect([...((await os.getBlob(`${name}/probe.pdf`)) ?? [])]).toEqual([4, 5, 6]);
      }
      for (const store of needs.readsObjectStores) {
        expect([...((await createObjectReader(nc, store).get('ticketing/probe.pdf')) ?? [])]).toEqual([4, 5, 6]);
      }

      for (const job of needs.jobs) await expectCanConsume(js, job.stream, job.consumer, job.subject);

      if (started.runtime && needs.jobs.length > 0) {
        // The runner's attempt log and dead letters, for this service's own consumers.
        const { runtime } = started;
        const job = needs.jobs[0]!;
        const key = `${job.stream}.${job.consumer}.1`;
        await runtime.attempts.recordFailure(key, new Date().toISOString(), { attempt: 1, at: new Date().toISOString(), error: 'probe' });
        expect((await runtime.attempts.get(key))?.failures).toHaveLength(1);
        await runtime.attempts.forget(key);
        const { deadLetterSubject } = await import('#shared/contracts/subjects');
        const ack = await runtime.publisher.publish(deadLetterSubject(job.stream, job.consumer), { probe: true }, { retryForMs: 0 });
        expect(ack.stream).toBe(STREAMS.DLQ.name);
      }
    });
  }

  test('the gateway calls auth over request/reply and auth answers through allow_responses', async () => {
    const auth = await connectAs('auth');
    auth.subscribe(SUBJECTS.authGetSession, { queue: 'auth-rpc', callback: (_e, msg) => void msg.respond(new TextEncoder().encode('{"ok":true}')) });
    await auth.flush();
    const gateway = await connectAs('gateway');
    const reply = await gateway.request(SUBJECTS.authGetSession, new TextEncoder().encode('{}'), { timeout: 5_000 });
    expect(reply.json()).toEqual({ ok: true });
  });
});

/** Pulls one message it published as admin from a service's consumer and acks it with confirmation. */
const expectCanConsume = async (js: JetStreamClient, stream: string, consumer: string, subject: string) => {
  const admin = jetstream(await connectAs(ADMIN_USER, 'probe-admin'));
  await admin.publish(subject, new TextEncoder().encode('{"probe":true}'), { msgID: `probe:${stream}:${consumer}` });
  const c = await js.consumers.get(stream, consumer);
  const batch = await c.fetch({ max_messages: 1, expires: 5_000 });
  let acked = false;
  for await (const m of batch) acked = await m.ackAck({ timeout: 5_000 });
  expect(acked, `${consumer} acked a message`).toBe(true);
};

/** Follows a stream with an ordered consumer from its end, as a live view does, and sees a new event. */
const expectCanWatch = async (js: JetStreamClient, stream: string, subject: string) => {
  const admin = await connectAs(ADMIN_USER, 'probe-watch-admin');
  const last = (await (await jetstreamManager(admin)).streams.info(stream)).state.last_seq;
  const consumer = await js.consumers.get(stream, { filter_subjects: subject, opt_start_seq: last + 1 });
  const messages = await consumer.consume({ max_messages: 8 });
  await jetstream(admin).publish(subject, new TextEncoder().encode('{"watched":true}'));
  for await (const m of messages) {
    expect(m.subject).toBe(subject);
    break;
  }
  await messages.close();
};

describe('each service user is denied what it must not do', () => {
  test('the mailer cannot publish a payment event', async () => {
    const mailer = jetstream(await connectAs('mailer'));
    const admin = jetstream(await connectAs(ADMIN_USER, 'deny-admin'));
    // The stream exists and takes the same message from an allowed user: the refusal is the permission.
    expect((await admin.publish(SUBJECTS.paymentReceived, new TextEncoder().encode('{}'))).stream).toBe(STREAMS.PAYMENTS.name);
    await expect(mailer.publish(SUBJECTS.paymentReceived, new TextEncoder().encode('{}'), { timeout: 3_000 })).rejects.toThrow(
      /permission/i,
    );
  });

  test('webhook-ingest cannot read the users bucket', async () => {
    const admin = await new Kvm(await connectAs(ADMIN_USER, 'deny-admin-kv')).open(BUCKETS.users.name);
    await admin.put('someone', '{"email":"a@example.test"}');
    const ingest = await connectAs('webhook-ingest');
    const kv = await new Kvm(ingest).open(BUCKETS.users.name);
    await expect(kv.get('someone')).rejects.toThrow(/permission/i);
    await expect(kv.status()).rejects.toThrow(/permission/i);
    const direct = ingest.request(`$JS.API.DIRECT.GET.KV_${BUCKETS.users.name}.$KV.${BUCKETS.users.name}.someone`, undefined, { timeout: 3_000 });
    await expect(direct).rejects.toThrow(/permission/i);
  });

  test('the gateway cannot consume ticket jobs', async () => {
    const gateway = await connectAs('gateway');
    const js = jetstream(gateway);
    await expect(js.consumers.get(generateTicketJob.stream, generateTicketJob.consumer)).rejects.toThrow(/permission/i);
    const pull = gateway.request(`$JS.API.CONSUMER.MSG.NEXT.${generateTicketJob.stream}.${generateTicketJob.consumer}`, new TextEncoder().encode('{"batch":1}'), { timeout: 3_000 });
    await expect(pull).rejects.toThrow(/permission/i);
  });

  test('order-change events: only ticketing publishes them; the gateway reads them but cannot publish, pull a durable or change the stream; a worker cannot read them', async () => {
    const subject = orderChangedSubject('ord_deny_probe');
    const gateway = await connectAs('gateway');
    await expect(jetstream(gateway).publish(subject, new TextEncoder().encode('{}'), { timeout: 3_000 })).rejects.toThrow(/permission/i);
    expect((await jetstream(await connectAs('ticketing')).publish(subject, new TextEncoder().encode('{}'))).stream).toBe(STREAMS.ORDER_EVENTS.name);
    const purge = await apiRequest(gateway, `$JS.API.STREAM.PURGE.${STREAMS.ORDER_EVENTS.name}`, {});
    expect(purge.denied).toBe(true);
    const mailer = jetstream(await connectAs('mailer'));
    await expect(mailer.consumers.get(STREAMS.ORDER_EVENTS.name, { filter_subjects: subject })).rejects.toThrow(/permission/i);
    // The watch's rights are on ORDER_EVENTS alone: the gateway cannot follow the payments.
    await expect(jetstream(gateway).consumers.get(STREAMS.PAYMENTS.name, { filter_subjects: SUBJECTS.paymentReceived })).rejects.toThrow(/permission/i);
  });

  test('a worker cannot bind another service\'s consumer or delete a stream', async () => {
    const mailer = await connectAs('mailer');
    await expect(jetstream(mailer).consumers.get(AUTH_JOBS.magicLink.stream, AUTH_JOBS.magicLink.consumer)).rejects.toThrow(/permission/i);
    await expect((await jetstreamManager(mailer, { checkAPI: false })).streams.delete(STREAMS.MAIL.name)).rejects.toThrow(/permission/i);
  });

  test('the mailer cannot write ticket PDFs, only read them', async () => {
    const os = await new Objm(await connectAs('mailer')).open(OBJECT_STORES.tickets.name);
    await expect(os.putBlob({ name: 'forged.pdf' }, new Uint8Array([1]))).rejects.toThrow(/permission/i);
  });

  test('readers of ticket PDFs cannot leave consumers on the store: reads are message gets', async () => {
    for (const name of ['mailer', 'gateway'] as const) {
      const nc = await connectAs(name);
      const stream = `OBJ_${OBJECT_STORES.tickets.name}`;
      const create = apiRequest(nc, `$JS.API.CONSUMER.CREATE.${stream}`, { stream_name: stream, config: { ack_policy: 'none' } });
      expect(await create, name).toMatchObject({ denied: true });
    }
  });

  test('the console lists dead letters without a consumer on the DLQ', async () => {
    const consoleNc = await connectAs('console');
    const create = apiRequest(consoleNc, `$JS.API.CONSUMER.CREATE.${STREAMS.DLQ.name}`, { stream_name: STREAMS.DLQ.name, config: { ack_policy: 'none' } });
    expect(await create).toMatchObject({ denied: true });
    expect(Array.isArray(await listDeadLetters(await jetstreamManager(consoleNc)))).toBe(true);
  });

  test('no service can listen to another service\'s replies', async () => {
    const mailer = await connectAs('mailer');
    const sub = mailer.subscribe('_INBOX_gateway.>');
    await expect(sub.closed).resolves.toBeInstanceOf(Error);
    const { PermissionViolationError } = await import('@nats-io/transport-node');
    expect(await sub.closed).toBeInstanceOf(PermissionViolationError);
  });
});

/** Every stream of the system with the service that owns it: job and event streams, buckets, object stores. */
const OWNED_STREAMS: Array<{ stream: string; owner: ServiceName }> = [
  ...Object.values(STREAMS).map((s) => ({ stream: s.name, owner: s.owner })),
  ...Object.values(BUCKETS).map((b) => ({ stream: `KV_${b.name}`, owner: b.owner })),
  ...Object.values(OBJECT_STORES).map((o) => ({ stream: `OBJ_${o.name}`, owner: o.owner })),
];

/** A raw JetStream API request, as a compromised service would send it (no client-side checks). */
const apiRequest = async (nc: NatsConnection, subject: string, body: unknown) => {
  try {
    const reply = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: 5_000 });
    return { denied: false, reply: reply.json<{ error?: { description: string } }>() };
  } catch (error) {
    // The publish itself refused, not e.g. the reply subscription (which would prove nothing).
    if (String(error).includes(`Permissions Violation for Publish to "${subject}"`)) return { denied: true };
    throw error;
  }
};

describe('stream ownership is enforced by the server (issue 12, acceptance 4)', () => {
  const configs = new Map<string, unknown>();
  beforeAll(async () => {
    // Every stream exists (the operator ensures what each service owns), so a refusal below is the
    // permission, never a missing stream.
    const admin = await connectAs(ADMIN_USER, 'owner-admin');
    const jsm = await jetstreamManager(admin);
    for (const name of SERVICES) await ensureOwned(admin, { jsm, log: quietLog, replicas: 1 }, ownedBy(name));
    for (const { stream } of OWNED_STREAMS) configs.set(stream, (await jsm.streams.info(stream)).config);
  });

  for (const name of SERVICES) {
    test(`${name}: STREAM.CREATE, UPDATE and DELETE are denied on every stream it does not own; only INFO at most`, async () => {
      const nc = await connectAs(name);
      const foreign = OWNED_STREAMS.filter((s) => s.owner !== name);
      expect(foreign.length).toBeGreaterThan(5);
      for (const { stream } of foreign) {
        for (const op of ['CREATE', 'UPDATE', 'DELETE'] as const) {
          const body = op === 'DELETE' ? {} : { ...(configs.get(stream) as object), max_msgs: 1, max_age: 1_000_000_000 };
          const result = await apiRequest(nc, `$JS.API.STREAM.${op}.${stream}`, body);
          expect(result.denied, `${name} ${op} ${stream}`).toBe(true);
        }
      }
    });
  }

  test('an owner may update its own streams; no service may delete one, even its own; the operator may', async () => {
    for (const { stream, owner } of OWNED_STREAMS) {
      const nc = await connectAs(owner);
      const update = await apiRequest(nc, `$JS.API.STREAM.UPDATE.${stream}`, configs.get(stream));
      expect(update, `${owner} UPDATE ${stream}`).toMatchObject({ denied: false, reply: { config: { name: stream } } });
      expect((await apiRequest(nc, `$JS.API.STREAM.DELETE.${stream}`, {})).denied, `${owner} DELETE ${stream}`).toBe(true);
    }
    const admin = await jetstreamManager(await connectAs(ADMIN_USER, 'delete-admin'));
    await admin.streams.add({ name: 'OPERATOR_SCRATCH', subjects: ['operator.scratch'] });
    expect(await admin.streams.delete('OPERATOR_SCRATCH')).toBe(true);
  });

  test('no worker can purge the attempt log it writes with a Nats-Rollup; it deletes its own keys instead', async () => {
    const bucket = BUCKETS.jobAttempts.name;
    const [mailer, auth] = await Promise.all([connectAs('mailer'), connectAs('auth')]);
    const authKey = `${AUTH_JOBS.magicLink.stream}.${AUTH_JOBS.magicLink.consumer}.4242`;
    const authLog = (await openJobsRuntime(auth, quietLog)).attempts;
    await authLog.recordFailure(authKey, new Date().toISOString(), { attempt: 1, at: new Date().toISOString(), error: 'kept' });

    // The mailer may write `$KV.job_attempts.MAIL.mailer-send.>`; a rollup there would purge the
    // whole bucket (`all`) or the key's history (`sub`). The bucket refuses both.
    const mailerKey = `$KV.${bucket}.MAIL.mailer-send.4242`;
    const js = jetstream(mailer);
    for (const rollup of ['all', 'sub']) {
      const h = headers();
      h.set('Nats-Rollup', rollup);
      await expect(js.publish(mailerKey, new TextEncoder().encode('{}'), { headers: h, timeout: 3_000 }), rollup).rejects.toThrow(/rollup not permitted/i);
    }
    await expect((await new Kvm(mailer).open(bucket)).purge('MAIL.mailer-send.4242')).rejects.toThrow(/rollup not permitted/i);
    expect((await authLog.get(authKey))?.failures).toHaveLength(1);

    // What the runner does instead: a delete marker on its own key.
    const mailerLog = (await openJobsRuntime(mailer, quietLog)).attempts;
    await mailerLog.recordFailure('MAIL.mailer-send.4242', new Date().toISOString(), { attempt: 1, at: new Date().toISOString(), error: 'probe' });
    await mailerLog.forget('MAIL.mailer-send.4242');
    expect(await mailerLog.get('MAIL.mailer-send.4242')).toBeUndefined();
    expect((await authLog.get(authKey))?.failures).toHaveLength(1);
  });

  test('no worker can roll up the dead-letter stream it writes', async () => {
    const mailer = jetstream(await connectAs('mailer'));
    const admin = await jetstreamManager(await connectAs(ADMIN_USER, 'rollup-dlq-admin'));
    const before = (await admin.streams.info(STREAMS.DLQ.name)).state.messages;
    expect(before).toBeGreaterThan(0);
    const h = headers();
    h.set('Nats-Rollup', 'all');
    await expect(mailer.publish('dlq.MAIL.mailer-send', new TextEncoder().encode('{}'), { headers: h, timeout: 3_000 })).rejects.toThrow(/rollup not permitted/i);
    expect((await admin.streams.info(STREAMS.DLQ.name)).state.messages).toBe(before);
  });

  test('a bucket created by an older version that allowed rollups is switched to refuse them by its owner', async () => {
    const stream = `KV_${BUCKETS.jobAttempts.name}`;
    const admin = await jetstreamManager(await connectAs(ADMIN_USER, 'rollup-upgrade-admin'));
    await admin.streams.update(stream, { ...(await admin.streams.info(stream)).config, allow_rollup_hdrs: true });
    const consoleNc = await connectAs('console');
    await ensureOwned(consoleNc, { jsm: await jetstreamManager(consoleNc), log: quietLog, replicas: 1 }, ownedBy('console'));
    expect((await admin.streams.info(stream)).config.allow_rollup_hdrs).toBe(false);
  });
});

describe('operators in control (issue 17): job events, pauses, send slots', () => {
  beforeAll(async () => {
    const admin = await connectAs(ADMIN_USER, 'ops-admin');
    const jsm = await jetstreamManager(admin);
    for (const name of SERVICES) await ensureOwned(admin, { jsm, log: quietLog, replicas: 1 }, ownedBy(name));
  });

  /** The last event stored on a subject, read as the operators' user. */
  const lastEvent = async (subject: string) => {
    const jsm = await jetstreamManager(await connectAs(ADMIN_USER, 'ops-events-admin'));
    return jsm.streams.getMessage(STREAMS.JOB_EVENTS.name, { last_by_subj: subject }).catch(() => null);
  };

  test('a worker tells job events of its own consumers only', async () => {
    const { jobEventSubject } = await import('#shared/jobs/job-events');
    const mailer = await connectAs('mailer');
    const own = jobEventSubject('probe-job', 'started', STREAMS.MAIL.name, 'mailer-send');
    const foreign = jobEventSubject('probe-job', 'started', AUTH_JOBS.magicLink.stream, AUTH_JOBS.magicLink.consumer);
    mailer.publish(foreign, new TextEncoder().encode('{"forged":true}'));
    mailer.publish(own, new TextEncoder().encode('{"probe":true}'));
    await mailer.flush();
    await waitForStored(() => lastEvent(own));
    expect(await lastEvent(foreign)).toBeNull();
  });

  test('workers read the operators\' pauses and cannot write them; the console can', async () => {
    const consoleKv = await new Kvm(await connectAs('console')).open(BUCKETS.queuePauses.name);
    await consoleKv.put('MAIL', JSON.stringify({ pausedAt: new Date().toISOString(), by: 'console' }));
    const workerKv = await new Kvm(await connectAs('ticketing')).open(BUCKETS.queuePauses.name);
    expect((await workerKv.get('MAIL'))?.json()).toMatchObject({ by: 'console' });
    await expect(workerKv.put('MAIL', '{}')).rejects.toThrow(/permission/i);
    await expect(workerKv.delete('MAIL')).rejects.toThrow(/permission/i);
    await consoleKv.delete('MAIL');
  });

  test('the console pauses and resumes a consumer on servers with consumer pause; a worker cannot', async () => {
    const consoleNc = await connectAs('console');
    const { supportsConsumerPause } = await import('#shared/nats/server-features');
    const mailer = await connectAs('mailer');
    await ensureConsumer({ jsm: await jetstreamManager(mailer), log: quietLog, replicas: 1 }, MAIL_JOBS.send);
    const pauseSubject = `$JS.API.CONSUMER.PAUSE.${STREAMS.MAIL.name}.${MAIL_JOBS.send.consumer}`;
    expect((await apiRequest(mailer, pauseSubject, { pause_until: new Date(Date.now() + 60_000).toISOString() })).denied).toBe(true);
    if (!supportsConsumerPause(consoleNc.info?.version)) return;
    const jsm = await jetstreamManager(consoleNc);
    await jsm.consumers.pause(STREAMS.MAIL.name, MAIL_JOBS.send.consumer, new Date(Date.now() + 60_000));
    expect((await jsm.consumers.info(STREAMS.MAIL.name, MAIL_JOBS.send.consumer)).paused).toBe(true);
    await jsm.consumers.resume(STREAMS.MAIL.name, MAIL_JOBS.send.consumer);
    expect((await jsm.consumers.info(STREAMS.MAIL.name, MAIL_JOBS.send.consumer)).paused).toBeFalsy();
  });
});

const waitForStored = async <T>(read: () => Promise<T | null>): Promise<T> => {
  for (let i = 0; i < 100; i++) {
    const value = await read();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the event was never stored');
};
