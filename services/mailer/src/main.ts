import { hostname } from 'node:os';
import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { MAIL_LANES } from '#shared/contracts/lanes';
import { createLaneGate, kvGateStore } from '#shared/jobs/lane-gate';
import { worker } from '#shared/jobs/workers';
import { openBucket } from '#shared/nats/kv';
import { createObjectReader } from '#shared/nats/object-reader';
import { defineService } from '#shared/service/run-service';
import { mailerEnv } from './config.ts';
import { createSendMail } from './handlers/send-mail.ts';
import { createSendTickets } from './handlers/send-tickets.ts';
import { createOnTicketsMailDeadLettered } from './handlers/tickets-dead-lettered.ts';
import { laneTransport } from './lane-transport.ts';
import { mailSendJob } from './mail-job.ts';
import { claimMsFor } from './send-once.ts';
import { createKvSentRecords } from './sent-records.ts';
import { ticketsMailJob } from './tickets-mail-job.ts';
import { createSmtpTransport, senderDomain } from './transport.ts';

/** mailer: templated email over SMTP; sign-in links and tickets with their PDFs attached. */
export default defineService({
  name: 'mailer',
  env: mailerEnv,
  async start({ nc, config, publisher, log }) {
    const records = createKvSentRecords(await openBucket(nc, BUCKETS.mailSent));
    const transport = createSmtpTransport({ url: config.SMTP_URL, from: config.MAIL_FROM, timeoutMs: config.SMTP_TIMEOUT_MS, dataTimeoutMs: config.SMTP_DATA_TIMEOUT_MS });
    const messageIdDomain = senderDomain(config.MAIL_FROM);
    // Send slots shared with every other mailer replica through the mail_rate bucket.
    const gate = createLaneGate({
      lanes: Object.values(MAIL_LANES),
      ratePerSec: config.MAIL_RATE_PER_SEC,
      store: kvGateStore(await openBucket(nc, BUCKETS.mailRate), 'smtp'),
      maxWaitMs: config.MAIL_RATE_MAX_WAIT_MS,
      cooldown: { initialMs: config.MAIL_THROTTLE_COOLDOWN_MS, maxMs: Math.max(config.MAIL_THROTTLE_MAX_MS, config.MAIL_THROTTLE_COOLDOWN_MS) },
      log,
    });
    const holder = `${hostname()}/${process.pid}`;
    const mails = mailSendJob(config);
    const ticketMails = ticketsMailJob(config);
    return {
      workers: [
        worker(
          mails,
          createSendMail({
            transport: laneTransport(transport, gate, MAIL_LANES.signin.name),
            records,
            holder,
            claimMs: claimMsFor(mails, config.SMTP_DATA_TIMEOUT_MS),
            publicUrl: config.PUBLIC_URL,
            checkoutUrl: config.PAYMENT_CHECKOUT_URL,
            messageIdDomain,
          }),
        ),
        worker(
          ticketMails,
          createSendTickets({
            transport: laneTransport(transport, gate, MAIL_LANES.bulk.name),
            records,
            holder,
            claimMs: claimMsFor(ticketMails, config.SMTP_DATA_TIMEOUT_MS),
            tickets: createObjectReader(nc, OBJECT_STORES.tickets),
            publisher,
            messageIdDomain,
          }),
          createOnTicketsMailDeadLettered({ publisher, log }),
        ),
      ],
      close: () => {
        gate.close();
        transport.close();
      },
      ready: { smtp: new URL(config.SMTP_URL).host, ratePerSec: config.MAIL_RATE_PER_SEC ?? 'unlimited' },
    };
  },
});
