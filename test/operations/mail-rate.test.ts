/**
 * Issue 17, acceptance 2: two mailer replicas with MAIL_RATE_PER_SEC=4 share one cap: no
 * one-second window holds more than 5 sends (4, and one for the window's edges), however the
 * sends fall between the replicas; a 421 "slow down" from the server costs no attempt (with one
 * attempt allowed, a throttled job that lost it would be dead-lettered).
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MailSend } from '#shared/contracts/mail';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { buildJobStory, readJobEvents } from '#shared/jobs/job-story';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';

let nats: NatsServer;
let smtp: TestSmtpServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let publisher: Publisher;
const mailers: RunningService[] = [];

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  publisher = createPublisher(jetstream(nc), { retryForMs: 10_000 });
  const env = { NATS_URL: nats.url, SMTP_URL: smtp.url, MAIL_RATE_PER_SEC: '4', MAIL_MAX_ATTEMPTS: '1', MAIL_CONCURRENCY: '6', MAIL_THROTTLE_COOLDOWN_MS: '1000' };
  mailers.push(await startService('mailer', env), await startService('mailer', env));
}, 60_000);

afterAll(async () => {
  await Promise.all(mailers.map((m) => m.kill('SIGKILL')));
  await nc?.close();
  await smtp?.stop();
  await nats?.stop();
});

/** The most sends that began within any one second [t, t + 1000). */
const busiestSecond = (times: readonly number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1_000) j++;
    most = Math.max(most, j - i);
  }
  return most;
};

test('24 sign-in emails through two replicas: never more than 5 sends in a second; a 421 is not an attempt', async () => {
  const mails: MailSend[] = Array.from({ length: 24 }, (_, i) => ({
    v: 1,
    mailId: `rate-${i}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
    to: uniqueEmail(`rate${i}`),
    content: { template: 'magic_link', token: 'R'.repeat(43), expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
  }));
  smtp.rejectNext(2, 421, '4.7.0 Too many messages, slow down');
  await Promise.all(mails.map((m) => publisher.publish(SUBJECTS.mailSend, m, { id: m.mailId })));

  for (const m of mails) await smtp.waitForMessages(1, { match: to(m.to), timeoutMs: 60_000 });
  await waitFor(async () => (await jsm.streams.info(STREAMS.MAIL.name)).state.messages === 0, { what: 'every job acked' });
  for (const m of mails) expect(smtp.messages().filter(to(m.to)), m.to).toHaveLength(1);

  const started = smtp.sendsStarted();
  expect(started).toHaveLength(24);
  expect(busiestSecond(started)).toBeLessThanOrEqual(5);

  // Both replicas sent; the two throttled jobs went back unspent and were sent by their only attempt.
  const stories = await waitFor(
    async () => {
      const all = await Promise.all(mails.map(async (m) => buildJobStory(await readJobEvents(jsm, m.mailId))));
      return all.every((s) => s?.state.kind === 'done') ? all.map((s) => s!) : undefined;
    },
    { what: 'every job\'s story to end' },
  );
  expect(new Set(stories.flatMap((s) => s.deliveries.map((d) => d.worker))).size).toBe(2);
  const throttled = stories.filter((s) => s.deliveries.some((d) => d.outcome === 'deferred'));
  expect(throttled).toHaveLength(2);
  for (const s of throttled) {
    expect(s.deliveries[0]).toMatchObject({ attempt: 1, outcome: 'deferred', counted: false, error: expect.stringMatching(/421.*slow down/) });
    expect(s.deliveries.at(-1)).toMatchObject({ attempt: 1, outcome: 'ok', counted: true });
  }
  expect((await jsm.streams.info(STREAMS.DLQ.name)).state.messages).toBe(0);
});
