import { BUCKETS } from '#shared/contracts/buckets';
import type { JobSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { parseEnv } from '#shared/config/env';
import { installShutdown } from '#shared/service/shutdown';
import { connectNats } from '#shared/nats/connect';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureBucket } from '#shared/nats/ensure';
import { createMessaging, ensureDeclarations, startWorkers, worker } from '#shared/jobs/workers';
import { startHealthServer } from '#shared/observability/health';
import { createLogger } from '#shared/observability/logger';
import { createJobObserver } from '#shared/jobs/observe-attempts';
import { consumerSampler, createMetrics } from '#shared/observability/metrics';
import { mailerEnv } from './config.ts';
import { createSendMail } from './handlers/send-mail.ts';
import { mailSendJob } from './mail-job.ts';
import { createKvSentRecords } from './sent-records.ts';
import { createSmtpTransport, senderDomain } from './transport.ts';
import { createSendTickets } from './handlers/send-tickets.ts';
import { createTicketFiles } from '#shared/nats/object-reader';
import { ticketsMailJob } from './tickets-mail-job.ts';

const config = parseEnv(mailerEnv, process.env);
const log = createLogger({ service: 'mailer', level: config.LOG_LEVEL });
const nc = await connectNats({ url: config.NATS_URL, name: 'mailer', user: config.NATS_USER, password: config.NATS_PASSWORD, log });
const connection = watchConnection(nc);
const messaging = await createMessaging(nc, { replicas: config.JS_REPLICAS, log });
const records = createKvSentRecords(await ensureBucket(nc, BUCKETS.mailSent, config.JS_REPLICAS));
const transport = createSmtpTransport({ url: config.SMTP_URL, from: config.MAIL_FROM, timeoutMs: config.SMTP_TIMEOUT_MS });

const workerList = [
  worker(
    mailSendJob(config),
    createSendMail({ transport, records, publicUrl: config.PUBLIC_URL, messageIdDomain: senderDomain(config.MAIL_FROM) }),
  ),
  worker(
    ticketsMailJob(config),
    createSendTickets({ transport, records, tickets: createTicketFiles(nc), publisher: messaging.publisher, messageIdDomain: senderDomain(config.MAIL_FROM) }),
  ),
];
await ensureDeclarations(messaging, { streams: [STREAMS.MAIL, STREAMS.TICKET_EVENTS, STREAMS.TICKETS], jobs: workerList.map((w) => w.job as JobSpec<never>) });
const metrics = createMetrics({ service: 'mailer', sampleConsumers: consumerSampler(messaging.jsm, workerList.map((w) => w.job)) });
const workers = await startWorkers(messaging, workerList, { log, observer: createJobObserver(metrics) });
let draining = false;
const health = await startHealthServer({ port: config.HEALTH_PORT, checks: { isReady: () => !draining && connection.connected(), metrics: () => metrics.render() }, log });

installShutdown(async () => {
  draining = true;
  await workers.stop(config.SHUTDOWN_GRACE_MS);
  transport.close();
  await health.close();
  await nc.drain();
}, log);
log.info({ healthPort: health.port, smtp: new URL(config.SMTP_URL).host }, 'service ready');
