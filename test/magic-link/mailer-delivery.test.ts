import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BUCKETS } from '#shared/contracts/buckets';
import type { MailSend } from '#shared/contracts/mail';
import { STREAMS } from '#shared/contracts/streams';
import type { JobSpec } from '#shared/contracts/spec';
import { SUBJECTS } from '#shared/contracts/subjects';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import type { Reply } from '#shared/jobs/decide';
import { ensureBucket, ensureStream } from '#shared/nats/ensure';
import type { RunnerObserver } from '#shared/jobs/observer';
import { startWorkers, worker, type JobsRuntime } from '#shared/jobs/workers';
import { testJobsRuntime } from '../jobs-runtime.ts';
import { createSendMail } from '../../services/mailer/src/handlers/send-mail.ts';
import { mailSendJob } from '../../services/mailer/src/mail-job.ts';
import { claimMsFor } from '../../services/mailer/src/send-once.ts';
import { createKvSentRecords, type SentRecords } from '../../services/mailer/src/sent-records.ts';
import { createSmtpTransport } from '../../services/mailer/src/transport.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';
import { to, uniqueEmail } from './helpers.ts';

// The mailer's worker in-process (with an observer on its runner) against real NATS and SMTP.
interface Attempt {
  jobId: string;
  attempt: number;
  startedAt: number;
  finishedAt?: number;
  outcome?: string;
  reply?: Reply;
}

let nats: NatsServer;
let smtp: TestSmtpServer;
let nc: NatsConnection;
let messaging: JobsRuntime;
let records: SentRecords;
let stopWorkers: (graceMs: number) => Promise<void>;
const attempts: Attempt[] = [];
let job: JobSpec<MailSend>;

const observer: RunnerObserver = {
  attemptStarted(info) {
    const record: Attempt = { jobId: info.jobId, attempt: info.attempt, startedAt: Date.now() };
    attempts.push(record);
    return {
      run: (fn) => fn(),
      finished(outcome, reply) {
        Object.assign(record, { finishedAt: Date.now(), outcome: outcome.kind, reply });
      },
    };
  },
};

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  nc = await connect({ servers: nats.url });
  messaging = await testJobsRuntime(nc);
  job = mailSendJob({
    MAIL_MAX_ATTEMPTS: 8,
    MAIL_RETRY_INITIAL_MS: 150,
    MAIL_RETRY_MULTIPLIER: 2,
    MAIL_RETRY_MAX_MS: 5_000,
    MAIL_RETRY_JITTER: 0,
    MAIL_CONCURRENCY: 2,
    SMTP_TIMEOUT_MS: 2_000,
  });
  await ensureStream({ jsm: messaging.jsm, log: quietLog, replicas: 1 }, STREAMS.MAIL);
  records = createKvSentRecords(await ensureBucket(nc, BUCKETS.mailSent, 1));
  const transport = createSmtpTransport({ url: smtp.url, from: 'Handoff <no-reply@mail.example.test>', timeoutMs: 2_000 });
  const workers = await startWorkers(
    messaging,
    [worker(job, createSendMail({ transport, records, holder: 'delivery-test', claimMs: claimMsFor(job, 2_000), publicUrl: 'https://tickets.example.test', checkoutUrl: 'https://pay.example.test/checkout', messageIdDomain: 'mail.example.test' }))],
    { log: quietLog, observer },
  );
  stopWorkers = workers.stop;
});

afterAll(async () => {
  await stopWorkers?.(1_000);
  await nc?.close();
  await smtp?.stop();
  await nats?.stop();
});

const mailJob = (email: string, mailId = `test-${Math.random().toString(36).slice(2)}`): MailSend => ({
  v: 1,
  mailId,
  to: email,
  content: { template: 'magic_link', token: 'T'.repeat(43), expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
});
const enqueue = (mail: MailSend, id = mail.mailId) => messaging.publisher.publish(SUBJECTS.mailSend, mail, { id });
const attemptsOf = (jobId: string) => attempts.filter((a) => a.jobId === jobId);
const mailQueueEmpty = async () => (await messaging.jsm.streams.info(STREAMS.MAIL.name)).state.messages === 0;

test('SMTP refusing connections: retried with growing delays, then delivered once when it accepts again', async () => {
  const email = uniqueEmail('outage');
  const mail = mailJob(email);
  await smtp.refuse(true);
  await enqueue(mail);

  await waitFor(() => attemptsOf(mail.mailId).filter((a) => a.reply?.kind === 'nak').length >= 3 || undefined, {
    timeoutMs: 30_000,
    what: 'three failed attempts',
  });
  await smtp.refuse(false);
  const [received] = await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
  await waitFor(mailQueueEmpty, { what: 'the mail job to be acked' });

  expect(smtp.messages().filter(to(email))).toHaveLength(1);
  expect(received!.parsed.messageId).toBe(`<${mail.mailId}@mail.example.test>`);
  expect(received!.parsed.text).toContain(`https://tickets.example.test/auth/verify?token=${'T'.repeat(43)}`);

  // The email arrives before the runner has recorded the attempt's end: wait for that too.
  await waitFor(() => attemptsOf(mail.mailId).at(-1)?.outcome, { what: 'the last attempt to finish' });
  const tries = attemptsOf(mail.mailId);
  const failed = tries.filter((a) => a.reply?.kind === 'nak');
  expect(tries.at(-1)).toMatchObject({ outcome: 'ok', reply: { kind: 'ack' } });
  expect(tries.map((a) => a.attempt)).toEqual(tries.map((_, i) => i + 1));
  const delays = failed.map((a) => (a.reply?.kind === 'nak' ? a.reply.delayMs : 0));
  for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]!);
  expect(delays.slice(0, 3)).toEqual([150, 300, 600]);
  // Each retry really waited (at least) its delay: the server redelivered on the nak's schedule.
  for (let i = 0; i < failed.length; i++) {
    expect(tries[i + 1]!.startedAt - failed[i]!.finishedAt!).toBeGreaterThanOrEqual(delays[i]! - 50);
  }
  expect((await records.read(mail.mailId))?.value).toMatchObject({ state: 'sent', mailId: mail.mailId, messageId: `<${mail.mailId}@mail.example.test>` });
});

test('a 4xx reply (try again later) is retried and then delivered', async () => {
  const email = uniqueEmail('greylist');
  const mail = mailJob(email);
  smtp.rejectWith(451, 'Greylisted, try again later');
  await enqueue(mail);
  await waitFor(() => attemptsOf(mail.mailId).some((a) => a.reply?.kind === 'nak') || undefined, { what: 'a failed attempt' });
  smtp.rejectWith(null);
  await smtp.waitForMessages(1, { match: to(email) });
  await waitFor(mailQueueEmpty, { what: 'the mail job to be acked' });
  expect(smtp.messages().filter(to(email))).toHaveLength(1);
  await waitFor(() => attemptsOf(mail.mailId).at(-1)?.outcome, { what: 'the last attempt to finish' });
  expect(attemptsOf(mail.mailId).at(-1)).toMatchObject({ outcome: 'ok' });
});

test('a 5xx rejection dead-letters the mail job on its first attempt', async () => {
  const email = uniqueEmail('rejected');
  const mail = mailJob(email);
  smtp.rejectWith(550, 'Mailbox unavailable');
  try {
    await enqueue(mail);
    const dead = await waitFor(
      async () => (await listDeadLetters(messaging.jsm)).find((d) => d.record.jobId === mail.mailId),
      { timeoutMs: 20_000, what: 'the dead letter' },
    );
    expect(dead.record).toMatchObject({ job: 'mail.send', reason: 'permanent', attempts: 1, subject: SUBJECTS.mailSend, consumer: job.consumer });
    expect(dead.record.error).toMatch(/550/);
    await waitFor(mailQueueEmpty, { what: 'the mail job to be terminated' });
    expect(attemptsOf(mail.mailId)).toHaveLength(1);
    expect(smtp.messages().filter(to(email))).toHaveLength(0);
  } finally {
    smtp.rejectWith(null);
  }
});

test('a redelivered mail job whose mail was already sent does not send it again', async () => {
  const email = uniqueEmail('twice');
  const mail = mailJob(email);
  await enqueue(mail);
  await smtp.waitForMessages(1, { match: to(email) });
  await waitFor(mailQueueEmpty, { what: 'the first job to be acked' });

  // The same mail job again under another message id: what a redelivery after a lost ack looks like.
  const again = `${mail.mailId}-again`;
  await enqueue(mail, again);
  await waitFor(() => attemptsOf(again)[0]?.outcome, { what: 'the second delivery to finish' });
  await waitFor(mailQueueEmpty, { what: 'the second job to be acked' });
  expect(attemptsOf(again)).toHaveLength(1);
  expect(attemptsOf(again)[0]).toMatchObject({ outcome: 'ok' });
  expect(smtp.messages().filter(to(email))).toHaveLength(1);
});

test('a magic link that expired while queued is dropped, not sent', async () => {
  const email = uniqueEmail('stale');
  const mail: MailSend = { ...mailJob(email), content: { template: 'magic_link', token: 'S'.repeat(43), expiresAt: new Date(Date.now() - 1_000).toISOString() } };
  await enqueue(mail);
  await waitFor(() => attemptsOf(mail.mailId)[0]?.outcome, { what: 'the job to finish' });
  await waitFor(mailQueueEmpty, { what: 'the job to be acked' });
  expect(attemptsOf(mail.mailId)[0]).toMatchObject({ outcome: 'ok' });
  expect(smtp.messages().filter(to(email))).toHaveLength(0);
});
