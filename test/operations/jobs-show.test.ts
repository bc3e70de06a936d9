/**
 * Issue 17, acceptance 4: `jobs show` for a mail job that failed twice and then succeeded shows
 * its three attempts with their errors and its trace id; an unknown id exits 1 and says so. Also
 * a dead job's story, and dead letters filtered and replayed by job and reason. The mailer runs
 * as its own process; the CLI as `npm run cli` does.
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MailSend } from '#shared/contracts/mail';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import type { JobStory } from '#shared/jobs/job-story';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { runCli, to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';

let nats: NatsServer;
let smtp: TestSmtpServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let publisher: Publisher;
let mailer: RunningService;
const cli = (...args: string[]) => runCli(args, { NATS_URL: nats.url, LOG_LEVEL: 'warn' });

const signInMail = (email: string, label: string): MailSend => ({
  v: 1,
  mailId: `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
  to: email,
  content: { template: 'magic_link', token: 'SECRET-TOKEN-'.padEnd(43, 'x'), expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
});
const randomHex = (bytes: number) => Array.from({ length: bytes }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0')).join('');
const queueEmpty = async () => (await jsm.streams.info(STREAMS.MAIL.name)).state.messages === 0;
const story = async (jobId: string, done: (s: JobStory) => boolean) =>
  waitFor(
    async () => {
      const shown = await cli('jobs', 'show', jobId, '--json');
      if (shown.code !== 0) return undefined;
      const parsed = JSON.parse(shown.output) as JobStory;
      return done(parsed) ? parsed : undefined;
    },
    { timeoutMs: 20_000, what: `the story of ${jobId}` },
  );

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  publisher = createPublisher(jetstream(nc), { retryForMs: 10_000 });
  mailer = await startService('mailer', { NATS_URL: nats.url, SMTP_URL: smtp.url, MAIL_RETRY_INITIAL_MS: '300', MAIL_RETRY_JITTER: '0', MAIL_MAX_ATTEMPTS: '5' });
}, 60_000);

afterAll(async () => {
  await mailer?.kill('SIGKILL');
  await nc?.close();
  await smtp?.stop();
  await nats?.stop();
});

test('a job that failed twice then succeeded: three attempts with their errors, delays and trace id; done', async () => {
  const email = uniqueEmail('story');
  const mail = signInMail(email, 'story');
  const traceId = randomHex(16);
  smtp.rejectNext(2, 451, 'Greylisted, please try again later');
  await publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId, headers: { traceparent: `00-${traceId}-${randomHex(8)}-01` } });
  await smtp.waitForMessages(1, { match: to(email), timeoutMs: 20_000 });
  await waitFor(queueEmpty, { what: 'the job to be acked' });

  const told = await story(mail.mailId, (s) => s.state.kind === 'done');
  expect(told).toMatchObject({ jobId: mail.mailId, job: 'mail.send', subject: SUBJECTS.mailSend, stream: 'MAIL', consumer: 'mailer-send', traceIds: [traceId] });
  expect(told.deliveries.map((d) => [d.attempt, d.outcome, d.reply, d.retryInMs])).toEqual([
    [1, 'failed', 'nak', 300],
    [2, 'failed', 'nak', 600],
    [3, 'ok', 'ack', undefined],
  ]);
  for (const d of told.deliveries.slice(0, 2)) expect(d.error).toMatch(/451 .*Greylisted/);
  for (const d of told.deliveries) expect(d.worker).toMatch(/^mailer@.+:\d+$/);
  // The payload as operators may see it: the token hidden, the address masked.
  expect(told.payload).not.toContain('SECRET-TOKEN');
  expect(told.payload).toContain('[hidden]');
  expect(told.payload).not.toContain(email);

  const text = await cli('jobs', 'show', mail.mailId);
  expect(text.code, text.output).toBe(0);
  const lines = text.output.split('\n');
  expect(lines).toContain(`job       ${mail.mailId}`);
  expect(lines).toContain(`trace     ${traceId}`);
  expect(text.output).toMatch(/^state {5}done at \d{4}-/m);
  expect(lines.filter((l) => /^\d+\/5 /.test(l))).toHaveLength(3);
  expect(text.output).toMatch(/^1\/5\s+mailer@\S+\s+\S+\s+\S+\s+failed\s+retry in 300ms\s+SMTP send failed \(will retry\): .*451/m);
  expect(text.output).toMatch(/^3\/5\s+mailer@\S+\s+\S+\s+\S+\s+ok\s+done$/m);
});

test('an unknown job id exits 1 with a clear message', async () => {
  const missing = await cli('jobs', 'show', 'no-such-job-id');
  expect(missing.code).toBe(1);
  expect(missing.output).toMatch(/^error: no job no-such-job-id: no worker has started it/);
  expect((await cli('jobs', 'show')).code).toBe(2);
});

test('dead letters by job and reason: listed, shown in the job\'s story, replayed in bulk', async () => {
  const email = uniqueEmail('dead');
  const mail = signInMail(email, 'dead');
  smtp.rejectWith(550, 'No such user');
  try {
    await publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId });
    const dead = await story(mail.mailId, (s) => s.state.kind === 'dead');
    expect(dead.state).toMatchObject({ kind: 'dead', reason: 'permanent', deadLetterId: expect.any(Number) });
    const id = (dead.state as { deadLetterId: number }).deadLetterId;

    const listed = await cli('dlq', 'list', '--job', 'mail.send', '--reason', 'permanent');
    expect(listed.code, listed.output).toBe(0);
    expect(listed.output).toMatch(new RegExp(`^\\s*${id}\\s+mail\\.send\\s+${mail.mailId}\\s+permanent\\s`, 'm'));
    expect((await cli('dlq', 'list', '--reason', 'exhausted')).output).toBe('no dead letters match\n');
    expect((await cli('dlq', 'list', '--job', 'tickets.generate')).output).toBe('no dead letters match\n');
    expect((await cli('dlq', 'list', '--reason', 'tired')).code).toBe(2);
  } finally {
    smtp.rejectWith(null);
  }
  const replayed = await cli('dlq', 'replay', '--job', 'mail.send', '--reason', 'permanent');
  expect(replayed.code, replayed.output).toBe(0);
  expect(replayed.output).toMatch(new RegExp(`replayed \\d+: job ${mail.mailId} → mail\\.send`));
  await smtp.waitForMessages(1, { match: to(email) });
  const again = await story(mail.mailId, (s) => s.state.kind === 'done');
  expect(again.deliveries.map((d) => d.outcome)).toEqual(['permanent', 'ok']);
});
