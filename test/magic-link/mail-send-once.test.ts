import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BUCKETS } from '#shared/contracts/buckets';
import type { MailSend } from '#shared/contracts/mail';
import type { JobSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { startWorkers, worker, type JobsRuntime } from '#shared/jobs/workers';
import type { RunnerObserver } from '#shared/jobs/observer';
import { ensureBucket, ensureStream } from '#shared/nats/ensure';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import type { Log } from '#shared/observability/logger';
import { createSendMail } from '../../services/mailer/src/handlers/send-mail.ts';
import { mailSendJob } from '../../services/mailer/src/mail-job.ts';
import { claimMsFor, sendOnce } from '../../services/mailer/src/send-once.ts';
import { createKvSentRecords, type SentRecords } from '../../services/mailer/src/sent-records.ts';
import { createSmtpTransport } from '../../services/mailer/src/transport.ts';
import { ensureConsoleState, quietLog, testJobsRuntime } from '../jobs-runtime.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';
import { to, uniqueEmail } from './helpers.ts';

// One email per mail, also when two deliveries of its job overlap: a mailer stalled mid-send past
// its ack-wait (the job goes to the other mailer), a job timeout racing the send, a claim left by
// a mailer that died. Real nats-server, real SMTP server, real mailer processes.
let nats: NatsServer;
let smtp: TestSmtpServer;
let nc: NatsConnection;
let publisher: Publisher;
let records: SentRecords;
const FROM = 'Handoff <no-reply@mail.example.test>';

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  nc = await connect({ servers: nats.url });
  publisher = createPublisher(jetstream(nc), { retryForMs: 10_000 });
  records = createKvSentRecords(await ensureBucket(nc, BUCKETS.mailSent, 1));
});

afterAll(async () => {
  await nc?.close();
  await smtp?.stop();
  await nats?.stop();
});

const mailJob = (email: string): MailSend => ({
  v: 1,
  mailId: `once-${Math.random().toString(36).slice(2)}`,
  to: email,
  content: { template: 'magic_link', token: 'T'.repeat(43), expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
});

const mailQueueSettled = async (jsm: JetStreamManager) => {
  const info = await jsm.consumers.info(STREAMS.MAIL.name, 'mailer-send');
  return info.num_pending === 0 && info.num_ack_pending === 0;
};

test('a mailer stalled mid-send past its ack-wait: the job goes to the other mailer, which waits on the claim; one email', async () => {
  const email = uniqueEmail('stalled');
  // A stop longer than SMTP_TIMEOUT_MS: once the message is handed over, only SMTP_DATA_TIMEOUT_MS counts.
  const env = { NATS_URL: nats.url, SMTP_URL: smtp.url, MAIL_FROM: FROM, SMTP_TIMEOUT_MS: '3000', MAIL_ACK_WAIT_MS: '1000', LOG_LEVEL: 'info' };
  const mailers: RunningService[] = [];
  try {
    const first = await startService('mailer', env, { timeoutMs: 90_000 });
    mailers.push(first);
    // The relay answers the message 3 s after taking it: the first mailer is stopped (SIGSTOP, a
    // process starved of CPU) while it waits for that answer, and its ack-wait runs out.
    smtp.delayReplies(3_000);
    const mail = mailJob(email);
    await publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId });
    await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
    process.kill(first.pid, 'SIGSTOP');
    let second: RunningService;
    try {
      second = await startService('mailer', env, { timeoutMs: 90_000 });
      mailers.push(second);
      await waitFor(() => second.output().includes('mail being sent by another attempt'), { timeoutMs: 60_000, what: 'the second mailer to find the claim' });
    } finally {
      process.kill(first.pid, 'SIGCONT');
    }
    await waitFor(() => second.output().includes('mail already sent; not sending again'), { timeoutMs: 60_000, what: 'the second mailer to see the send recorded' });
    const jsm = await jetstreamManager(nc);
    await waitFor(() => mailQueueSettled(jsm), { timeoutMs: 30_000, what: 'the mail job to be acked' });
    expect(smtp.messages().filter(to(email))).toHaveLength(1);
    expect((await records.read(mail.mailId))?.value).toMatchObject({ state: 'sent', mailId: mail.mailId });
  } finally {
    smtp.delayReplies(0);
    await Promise.all(mailers.map((m) => m.kill('SIGKILL')));
  }
});

test("a job timeout racing the send: the send still waits for the server's reply, the retry waits on the claim; one email", async () => {
  const email = uniqueEmail('raced');
  const runtime: JobsRuntime = await testJobsRuntime(nc);
  await ensureStream({ jsm: runtime.jsm, log: quietLog, replicas: 1 }, STREAMS.MAIL);
  const base = mailSendJob({
    MAIL_MAX_ATTEMPTS: 8,
    MAIL_RETRY_INITIAL_MS: 150,
    MAIL_RETRY_MULTIPLIER: 2,
    MAIL_RETRY_MAX_MS: 2_000,
    MAIL_RETRY_JITTER: 0,
    MAIL_CONCURRENCY: 2,
    SMTP_TIMEOUT_MS: 5_000,
  });
  // Each attempt may run 1.5 s; the relay answers each message 3 s after taking it.
  const job: JobSpec<MailSend> = { ...base, timeoutMs: 1_500 };
  const outcomes: string[] = [];
  const observer: RunnerObserver = {
    attemptStarted: () => ({ run: (fn) => fn(), finished: (outcome) => void outcomes.push(outcome.kind) }),
  };
  const transport = createSmtpTransport({ url: smtp.url, from: FROM, timeoutMs: 5_000 });
  smtp.delayReplies(3_000);
  const workers = await startWorkers(
    runtime,
    [worker(job, createSendMail({ transport, records, holder: 'race-test', claimMs: claimMsFor(job, 5_000), publicUrl: 'https://tickets.example.test', checkoutUrl: 'https://pay.example.test/checkout', messageIdDomain: 'mail.example.test' }))],
    { log: quietLog, observer },
  );
  try {
    const mail = mailJob(email);
    await publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId });
    await waitFor(() => outcomes.includes('ok') || undefined, { timeoutMs: 30_000, what: 'an attempt to end ok' });
    // The first attempt timed out while the relay still held its answer; a later one ended ok.
    expect(outcomes[0]).toBe('timeout');
    await smtp.waitForMessages(1, { match: to(email) });
    expect(smtp.messages().filter(to(email))).toHaveLength(1);
    expect((await records.read(mail.mailId))?.value).toMatchObject({ state: 'sent' });
  } finally {
    smtp.delayReplies(0);
    await workers.stop(1_000);
  }
});

const capture = () => {
  const lines: string[] = [];
  const log: Log = {
    info: (o: object, msg?: string) => void lines.push(`${msg ?? ''} ${JSON.stringify(o)}`),
    warn: (o: object, msg?: string) => void lines.push(`${msg ?? ''} ${JSON.stringify(o)}`),
    error: (o: object, msg?: string) => void lines.push(`${msg ?? ''} ${JSON.stringify(o)}`),
    debug: () => undefined,
  } as Log;
  return { log, lines };
};

const outgoing = (email: string, mailId: string) => ({ to: email, subject: 'once', text: 'once', html: '<p>once</p>', messageId: `<${mailId}@mail.example.test>` });

test('two deliveries of one mail at the same time (a replay while the original still sends): one email, the other finds it sent', async () => {
  const email = uniqueEmail('overlap');
  const mailId = `once-${Math.random().toString(36).slice(2)}`;
  const transport = createSmtpTransport({ url: smtp.url, from: FROM, timeoutMs: 5_000 });
  smtp.delayReplies(1_000);
  try {
    const deps = { transport, records, log: quietLog, claimMs: 60_000, holder: 'overlap-test', pollMs: 100 };
    const results = await Promise.all([sendOnce(deps, mailId, () => outgoing(email, mailId)), sendOnce(deps, mailId, () => outgoing(email, mailId))]);
    expect(results.sort()).toEqual(['already-sent', 'sent']);
    expect(smtp.messages().filter(to(email))).toHaveLength(1);
  } finally {
    smtp.delayReplies(0);
  }
});

test('a claim left by a mailer that died is taken over once its time is up, and the mail is sent', async () => {
  const email = uniqueEmail('orphan');
  const mailId = `once-${Math.random().toString(36).slice(2)}`;
  const past = Date.now() - 60_000;
  await records.claim({ state: 'sending', mailId, claimedAt: new Date(past).toISOString(), until: new Date(past + 1_000).toISOString(), by: 'dead-mailer/1' });
  const { log, lines } = capture();
  const transport = createSmtpTransport({ url: smtp.url, from: FROM, timeoutMs: 5_000 });
  expect(await sendOnce({ transport, records, log, claimMs: 60_000, holder: 'live-mailer/2' }, mailId, () => outgoing(email, mailId))).toBe('sent');
  await smtp.waitForMessages(1, { match: to(email) });
  expect(lines.some((l) => l.startsWith('took over the claim') && l.includes('dead-mailer/1'))).toBe(true);
  expect((await records.read(mailId))?.value).toMatchObject({ state: 'sent', mailId });
});

test('a send the server refused gives its claim back: the next attempt claims it and sends', async () => {
  const email = uniqueEmail('refused-once');
  const mailId = `once-${Math.random().toString(36).slice(2)}`;
  const transport = createSmtpTransport({ url: smtp.url, from: FROM, timeoutMs: 5_000 });
  const deps = { transport, records, log: quietLog, claimMs: 60_000, holder: 'refused-test' };
  smtp.rejectWith(451, 'try again later');
  try {
    await expect(sendOnce(deps, mailId, () => outgoing(email, mailId))).rejects.toThrow(/451/);
  } finally {
    smtp.rejectWith(null);
  }
  expect(await records.read(mailId)).toBeUndefined();
  expect(await sendOnce(deps, mailId, () => outgoing(email, mailId))).toBe('sent');
  expect(smtp.messages().filter(to(email))).toHaveLength(1);
});

test('a relay slower than SMTP_TIMEOUT_MS to answer the message, and the job timing out meanwhile: the send waits for the answer; one email', async () => {
  const email = uniqueEmail('slow-answer');
  const mailId = `once-${Math.random().toString(36).slice(2)}`;
  const transport = createSmtpTransport({ url: smtp.url, from: FROM, timeoutMs: 300, dataTimeoutMs: 30_000 });
  const job = new AbortController();
  smtp.delayReplies(2_000);
  try {
    const sending = transport.send(outgoing(email, mailId), job.signal);
    // The job's timeout fires while the relay still holds its answer to the message.
    await smtp.waitForMessages(1, { match: to(email) });
    job.abort(new Error('job timed out'));
    expect((await sending).response).toMatch(/^250/);
  } finally {
    smtp.delayReplies(0);
  }
  expect(smtp.messages().filter(to(email))).toHaveLength(1);
});
