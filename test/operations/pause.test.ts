/**
 * Issue 17, acceptance 3: `queues pause MAIL` → a sign-in email requested meanwhile is not sent,
 * across a restart of the mailer and of the server; `queues resume MAIL` → it goes out, once. On
 * the current server (consumer pause, 2.11+) and on the 2.9 floor (the runtime's own pause).
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MailSend } from '#shared/contracts/mail';
import { MAIL_JOBS } from '#shared/contracts/mail';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { supportsConsumerPause } from '#shared/nats/server-features';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { runCli, to, uniqueEmail } from '../magic-link/helpers.ts';
import { serversUnderTest, startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';

const signInMail = (email: string): MailSend => ({
  v: 1,
  mailId: `pause-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
  to: email,
  content: { template: 'magic_link', token: 'P'.repeat(43), expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
});

describe.each(serversUnderTest())('on $label', ({ binary }) => {
  let nats: NatsServer;
  let smtp: TestSmtpServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: Publisher;
  let mailer: RunningService;
  let version: string | undefined;
  const mailerEnv = () => ({ NATS_URL: nats.url, SMTP_URL: smtp.url, SHUTDOWN_GRACE_MS: '1000', MAIL_RETRY_INITIAL_MS: '200' });
  const cli = (...args: string[]) => runCli(args, { NATS_URL: nats.url, LOG_LEVEL: 'warn' });
  const send = async (mail: MailSend) => publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId });
  const consumer = () => jsm.consumers.info(STREAMS.MAIL.name, MAIL_JOBS.send.consumer);

  beforeAll(async () => {
    [nats, smtp] = await Promise.all([startNatsServer({ binary }), startSmtpServer()]);
    await ensureConsoleState(nats.url);
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    version = nc.info?.version;
    jsm = await jetstreamManager(nc);
    publisher = createPublisher(jetstream(nc), { retryForMs: 20_000 });
    mailer = await startService('mailer', mailerEnv());
  }, 60_000);

  afterAll(async () => {
    await mailer?.kill('SIGKILL');
    await nc?.close();
    await smtp?.stop();
    await nats?.stop();
  });

  test('paused, nothing is sent across restarts of the mailer and the server; resumed, it goes out once', async () => {
    // The mailer is live: a sign-in email goes out before the pause.
    const before = uniqueEmail('before-pause');
    await send(signInMail(before));
    await smtp.waitForMessages(1, { match: to(before) });

    const paused = await cli('queues', 'pause', 'MAIL');
    expect(paused.code, paused.output).toBe(0);
    const how = supportsConsumerPause(version) ? 'consumer pause on the server' : 'runtime pause: workers stop pulling';
    expect(paused.output).toBe(`paused MAIL (mailer-send) until resumed (${how})\n`);
    const listed = await cli('queues');
    expect(listed.output).toMatch(new RegExp(`^MAIL\\s+mailer-send\\s+.*paused \\(${supportsConsumerPause(version) ? 'server' : 'runtime, stream'}\\)$`, 'm'));

    const email = uniqueEmail('while-paused');
    await send(signInMail(email));
    await waitFor(async () => (await consumer()).num_pending === 1, { what: 'the sign-in job to wait in its queue' });

    // A new mailer process: it must not take the job either.
    await mailer.stop();
    mailer = await startService('mailer', mailerEnv());
    if (supportsConsumerPause(version)) {
      // It pulls, and the server (which holds the pause) delivers nothing.
      await waitFor(async () => (await consumer()).num_waiting > 0, { what: 'the new mailer to be pulling' });
    } else {
      await mailer.waitForOutput(/queue paused by the operators; not taking jobs/);
    }
    // And a new server process, from the same store.
    await nats.restart();
    await waitFor(async () => (await consumer()).num_pending === 1, { timeoutMs: 30_000, what: 'the queue after the server restart' });
    expect((await cli('queues')).output).toMatch(/^MAIL\s+mailer-send\s+.*paused/m);
    if (supportsConsumerPause(version)) await waitFor(async () => (await consumer()).num_waiting > 0, { timeoutMs: 20_000, what: 'the mailer to pull again' });
    expect(smtp.messages().filter(to(email))).toHaveLength(0);
    expect((await consumer()).num_ack_pending).toBe(0);

    const resumed = await cli('queues', 'resume', 'MAIL');
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toBe('resumed MAIL\n');
    await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
    await waitFor(async () => (await jsm.streams.info(STREAMS.MAIL.name)).state.messages === 0, { what: 'the job to be acked' });
    expect(smtp.messages().filter(to(email))).toHaveLength(1);
    expect((await cli('queues')).output).toMatch(/^MAIL\s+mailer-send\s+.*active$/m);
  });

  test('a consumer is paused by the name `queues` lists; unknown names exit 1 and say so', async () => {
    const paused = await cli('queues', 'pause', 'mailer-send', '--for', '10m');
    expect(paused.code, paused.output).toBe(0);
    expect(paused.output).toMatch(/^paused MAIL\/mailer-send until \d{4}-\d\d-\d\dT/);
    const rows = JSON.parse((await cli('queues', '--json')).output) as Array<{ consumer: string; paused?: { until?: string } }>;
    expect(rows.find((r) => r.consumer === 'mailer-send')?.paused?.until).toMatch(/^\d{4}-/);
    const resumed = await cli('queues', 'resume', 'MAIL/mailer-send');
    expect(resumed.output).toBe('resumed MAIL/mailer-send\n');
    expect((await cli('queues')).output).toMatch(/^MAIL\s+mailer-send\s+.*active$/m);
    const unknown = await cli('queues', 'pause', 'NO_SUCH_QUEUE');
    expect(unknown.code).toBe(1);
    expect(unknown.output).toMatch(/error: no stream or consumer named NO_SUCH_QUEUE/);
    const usage = await cli('queues', 'pause');
    expect(usage.code).toBe(2);
  });
});
