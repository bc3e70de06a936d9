/**
 * Issue 12, acceptance 2: replay cannot be aimed. On a nats-server running deploy/nats/server.conf,
 * the mail.send job runs as the mailer's own NATS user and dead-letters; a compromised mailer then
 * takes one of its real dead letters, edits the record to name `payments.event.received`, and
 * stores it again on the same DLQ subject — the only one it may write. `dlq replay ID`,
 * `dlq replay --all` (both as the operators' `admin` user) and the console service (its own
 * `console` user, which may publish to every job subject) refuse it; nothing reaches PAYMENTS;
 * the genuine dead letters of the same `--all` run are replayed and complete.
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { paymentReceivedJob } from '#shared/contracts/payments';
import { STREAMS } from '#shared/contracts/streams';
import { deadLetterSubject, SUBJECTS } from '#shared/contracts/subjects';
import { getDeadLetter, listDeadLetters, type DeadLetterRecord, type StoredDeadLetter } from '#shared/jobs/dead-letter';
import { openJobsRuntime } from '#shared/jobs/workers';
import { connectNats } from '#shared/nats/connect';
import { ensureStream } from '#shared/nats/ensure';
import { createPublisher } from '#shared/nats/publish';
import { passwordOf, randomPasswords, singleServerConfig } from '../deploy/nats-config.ts';
import { runCli } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { startService, type RunningService } from '../services.ts';
import { waitFor } from '../wait.ts';
import { createDeadJobFixture, type DeadJobFixture } from './dead-job.ts';

const passwords = randomPasswords();
const TOKEN = `console-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
let nats: NatsServer;
let consoleService: RunningService;
let base: string;
let admin: JetStreamManager;
let mailerNc: NatsConnection;
let dead: DeadJobFixture;
const connections: NatsConnection[] = [];

const connectAs = async (user: string) => {
  const nc = await connectNats({ url: nats.url, name: user, user, password: passwordOf(passwords, user), log: quietLog });
  connections.push(nc);
  return nc;
};
const cli = (...args: string[]) => runCli(args, { NATS_URL: nats.url, NATS_USER: 'admin', NATS_PASSWORD: passwordOf(passwords, 'admin'), LOG_LEVEL: 'warn' });
const jobId = (label: string) => `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const allDead = () => listDeadLetters(admin);
const deadLetterOf = async (id: string) => (await allDead()).find((d) => d.record.jobId === id);
const paymentsStored = async () => (await admin.streams.info(STREAMS.PAYMENTS.name)).state.last_seq;

beforeAll(async () => {
  nats = await startNatsServer({ config: singleServerConfig(passwords) });
  admin = await jetstreamManager(await connectAs('admin'));
  // The console owns the DLQ and the attempt log; webhook-ingest owns PAYMENTS, so a misdirected
  // replay would land there and be counted.
  consoleService = await startService('console', {
    NATS_URL: nats.url,
    NATS_USER: 'console',
    NATS_PASSWORD: passwordOf(passwords, 'console'),
    ADMIN_TOKEN: TOKEN,
    CONSOLE_PORT: '0',
    CONSOLE_HOST: '127.0.0.1',
  });
  base = `http://127.0.0.1:${consoleService.port}`;
  await ensureStream({ jsm: await jetstreamManager(await connectAs('webhook-ingest')), log: quietLog, replicas: 1 }, STREAMS.PAYMENTS);
  mailerNc = await connectAs('mailer');
  const auth = await connectAs('auth');
  dead = await createDeadJobFixture(await openJobsRuntime(mailerNc, quietLog), { enqueue: createPublisher(jetstream(auth), { retryForMs: 5_000 }) });
}, 60_000);

afterAll(async () => {
  await dead?.stop();
  await consoleService?.kill('SIGKILL');
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await nats?.stop();
});

/** What a compromised mailer can do: store an edited copy of its own dead letter where it may write. */
const forge = async (real: StoredDeadLetter, edit: Partial<DeadLetterRecord>): Promise<number> => {
  const forged = { ...real.record, ...edit };
  const subject = deadLetterSubject(real.record.stream, real.record.consumer);
  const ack = await jetstream(mailerNc).publish(subject, JSON.stringify(forged), { msgID: jobId('forged') });
  return ack.seq;
};

const payment = JSON.stringify({ type: 'payment.succeeded', timestamp: Date.now(), data: { orderId: 'ord_forged00000000000', amount: 0, currency: 'EUR' } });

/** A real dead letter of the mailer's, and two forgeries of it: every field that names a target, or only the subject. */
const realAndForged = async () => {
  const id = jobId('forge-source');
  await dead.enqueue(id);
  const real = await waitFor(() => deadLetterOf(id), { timeoutMs: 15_000, what: 'a real dead letter to forge from' });
  const renamed = await forge(real, { stream: paymentReceivedJob.stream, consumer: paymentReceivedJob.consumer, subject: SUBJECTS.paymentReceived, job: paymentReceivedJob.name, payload: payment });
  const subjectOnly = await forge(real, { subject: SUBJECTS.paymentReceived, payload: payment });
  return { real, forged: [renamed, subjectOnly] };
};

test('the mailer may write only its own dead-letter subjects, not another consumer\'s', async () => {
  const js = jetstream(mailerNc);
  await expect(js.publish(deadLetterSubject(paymentReceivedJob.stream, paymentReceivedJob.consumer), '{}', { timeout: 3_000 })).rejects.toThrow(/permission/i);
});

test('dlq replay ID refuses a forged dead letter, names why, publishes nothing and keeps it', async () => {
  const before = await paymentsStored();
  const { forged } = await realAndForged();
  for (const id of forged) {
    const run = await cli('dlq', 'replay', String(id));
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain(`refused ${id}: the record disagrees with its dead-letter subject dlq.MAIL.mailer-send`);
    expect(run.output).toContain('subject "payments.event.received" (expected "mail.send")');
    expect(run.output).not.toMatch(/^replayed/m);
    expect(await getDeadLetter(admin, id)).toBeDefined();
  }
  expect(await paymentsStored()).toBe(before);
});

test('the console service refuses a forged dead letter with replay_refused and publishes nothing', async () => {
  const before = await paymentsStored();
  const { forged } = await realAndForged();
  for (const id of forged) {
    const res = await fetch(`${base}/dlq/${id}/replay`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe('replay_refused');
    expect(body.detail).toContain('subject "payments.event.received" (expected "mail.send")');
    expect(await getDeadLetter(admin, id)).toBeDefined();
  }
  // The page offers no Replay button for them, and says why.
  const page = await (await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  for (const id of forged) {
    const row = new RegExp(`<tr id="dl-${id}"[\\s\\S]*?</tr>`).exec(page)?.[0] ?? '';
    expect(row).toContain('not replayable');
    expect(row).not.toContain(`action="/dlq/${id}/replay"`);
  }
  expect(await paymentsStored()).toBe(before);
  await waitFor(() => /"msg":"dead-letter replay refused"/.test(consoleService.output()) || undefined, { what: 'the refusal in the console log' });
});

test('dlq replay --all replays the genuine dead letters, refuses the forged ones and exits 1', async () => {
  dead.breakAgain();
  const genuine = [jobId('genuine-a'), jobId('genuine-b')];
  for (const id of genuine) await dead.enqueue(id);
  await Promise.all(genuine.map((id) => waitFor(() => deadLetterOf(id), { timeoutMs: 15_000, what: `dead letter ${id}` })));
  const { real } = await realAndForged();
  const forgedIds = (await allDead()).filter((d) => d.record.subject === SUBJECTS.paymentReceived).map((d) => d.id);
  expect(forgedIds.length).toBeGreaterThanOrEqual(2);
  const before = await paymentsStored();

  dead.heal();
  const run = await cli('dlq', 'replay', '--all');
  expect(run.code, run.output).toBe(1);
  for (const id of forgedIds) expect(run.output).toContain(`refused ${id}: the record disagrees with its dead-letter subject`);
  for (const id of [...genuine, real.record.jobId]) expect(run.output).toMatch(new RegExp(`replayed \\d+: job ${id} → mail\\.send`));
  expect(run.output).toMatch(new RegExp(`^\\d+ replayed, ${forgedIds.length} refused$`, 'm'));
  await Promise.all([...genuine, real.record.jobId].map((id) => dead.waitCompleted(id)));

  expect(await paymentsStored()).toBe(before);
  expect((await allDead()).map((d) => d.id).sort((a, b) => a - b)).toEqual(forgedIds.sort((a, b) => a - b));
});
