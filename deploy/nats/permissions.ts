/**
 * What each service may publish and subscribe to, derived from the contracts: the subjects it
 * publishes and serves, the `$JS.API` subjects of the streams, consumers, KV buckets and object
 * stores it touches, and its own inbox prefix. `generate.ts` renders this into accounts.conf; a
 * test checks the committed file matches, so a new consumer or bucket cannot silently lack (or
 * gain) a permission.
 */
import { AUTH_JOBS } from '#shared/contracts/auth';
import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { MAIL_JOBS } from '#shared/contracts/mail';
import { paymentReceivedJob } from '#shared/contracts/payments';
import type { BucketSpec, JobSpec, ObjectStoreSpec, StreamSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { deadLetterSubject, SUBJECTS } from '#shared/contracts/subjects';
import { defaultInboxPrefix } from '#shared/nats/connect';
import { generateTicketJob, ticketGeneratedJob, ticketsReadyMailJob, ticketsSentJob } from '#shared/contracts/tickets';

export const SERVICES = ['gateway', 'webhook-ingest', 'auth', 'ticketing', 'mailer'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The account every service user lives in; KEDA's nats-jetstream trigger names it too. */
export const APP_ACCOUNT = 'HANDOFF';

/**
 * Per-service inbox prefix: a service can subscribe to replies addressed to itself only. The
 * client derives it from its connection name, which is the service name.
 */
export const inboxPrefix = (service: string) => defaultInboxPrefix(service);

export interface ServiceNeeds {
  /** Starts the shared runtime (createMessaging), which ensures the DLQ stream and attempt log. */
  runtime: boolean;
  /** Streams it ensures at start (create if missing, update to the declaration). */
  streams: readonly StreamSpec[];
  /** Subjects it publishes into streams (PubAck comes back on its inbox). */
  publishes: readonly string[];
  /** Durable consumers it ensures and pulls from through the job runner. */
  jobs: readonly JobSpec<never>[];
  /** Buckets it owns: read, write, create. */
  buckets: readonly BucketSpec[];
  /** Object stores it owns: read, write, create. */
  objectStores: readonly ObjectStoreSpec[];
  /** Object stores it only reads. */
  readsObjectStores: readonly ObjectStoreSpec[];
  /** Request/reply subjects it serves (in a queue group); replies go out via allow_responses. */
  serves: readonly string[];
  /** Request/reply subjects it calls. */
  calls: readonly string[];
}

const jobs = (...list: JobSpec<never>[]): JobSpec<never>[] => list;
const rpcOf = (prefix: string) => Object.values(SUBJECTS).filter((s) => s.startsWith(prefix));

export const NEEDS: Record<ServiceName, ServiceNeeds> = {
  gateway: {
    runtime: true,
    streams: [STREAMS.AUTH],
    publishes: [SUBJECTS.magicLinkRequested],
    jobs: [],
    buckets: [BUCKETS.rateLimits],
    objectStores: [],
    readsObjectStores: [OBJECT_STORES.tickets],
    serves: [],
    // Not auth.rpc.add_user: adding users is an operator's job (the CLI runs as admin).
    calls: [SUBJECTS.authVerifyToken, SUBJECTS.authGetSession, SUBJECTS.authEndSession, ...rpcOf('ticketing.rpc.')],
  },
  'webhook-ingest': {
    runtime: false,
    streams: [STREAMS.PAYMENTS],
    publishes: [SUBJECTS.paymentReceived],
    jobs: [],
    buckets: [],
    objectStores: [],
    readsObjectStores: [],
    serves: [],
    calls: [],
  },
  auth: {
    runtime: true,
    streams: [STREAMS.AUTH, STREAMS.MAIL],
    publishes: [SUBJECTS.mailSend],
    jobs: jobs(AUTH_JOBS.magicLink as JobSpec<never>),
    buckets: [BUCKETS.users, BUCKETS.magicTokens, BUCKETS.sessions],
    objectStores: [],
    readsObjectStores: [],
    serves: rpcOf('auth.rpc.'),
    calls: [],
  },
  ticketing: {
    runtime: true,
    streams: [STREAMS.PAYMENTS, STREAMS.TICKETS, STREAMS.TICKET_EVENTS],
    publishes: [SUBJECTS.ticketGenerate, SUBJECTS.ticketGenerated, SUBJECTS.ticketsReady],
    jobs: jobs(
      paymentReceivedJob as JobSpec<never>,
      generateTicketJob as JobSpec<never>,
      ticketGeneratedJob as JobSpec<never>,
      ticketsSentJob as JobSpec<never>,
    ),
    buckets: [BUCKETS.orders, BUCKETS.ticketProgress],
    objectStores: [OBJECT_STORES.tickets],
    readsObjectStores: [],
    serves: rpcOf('ticketing.rpc.'),
    calls: [],
  },
  mailer: {
    runtime: true,
    streams: [STREAMS.MAIL, STREAMS.TICKETS, STREAMS.TICKET_EVENTS],
    publishes: [SUBJECTS.ticketsSent],
    jobs: jobs(MAIL_JOBS.send as JobSpec<never>, ticketsReadyMailJob as JobSpec<never>),
    buckets: [BUCKETS.mailSent],
    objectStores: [],
    readsObjectStores: [OBJECT_STORES.tickets],
    serves: [],
    calls: [],
  },
};

export interface Permissions {
  publish: string[];
  subscribe: string[];
  allowResponses: boolean;
}

const API = '$JS.API';

const streamAdmin = (name: string) => [`${API}.STREAM.INFO.${name}`, `${API}.STREAM.CREATE.${name}`, `${API}.STREAM.UPDATE.${name}`];

// 2.9 creates a named, filtered consumer on CONSUMER.CREATE.<stream>.<name>.<filter>; older
// clients use DURABLE.CREATE. The runner pulls with MSG.NEXT and acks on the message's reply subject.
const consumerUse = (stream: string, consumer: string) => [
  `${API}.CONSUMER.INFO.${stream}.${consumer}`,
  `${API}.CONSUMER.CREATE.${stream}.${consumer}`,
  `${API}.CONSUMER.CREATE.${stream}.${consumer}.>`,
  `${API}.CONSUMER.DURABLE.CREATE.${stream}.${consumer}`,
  `${API}.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
  `$JS.ACK.${stream}.${consumer}.>`,
];

/** Reading a KV/object-store stream: direct and stored gets, plus ordered consumers for watch/list. */
const streamRead = (stream: string) => [
  `${API}.STREAM.INFO.${stream}`,
  `${API}.STREAM.MSG.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}.>`,
  `${API}.CONSUMER.CREATE.${stream}`,
  `${API}.CONSUMER.CREATE.${stream}.>`,
  `${API}.CONSUMER.INFO.${stream}.>`,
  `${API}.CONSUMER.DELETE.${stream}.>`,
  `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
  `$JS.FC.${stream}.>`,
];

const bucketOwner = (bucket: string) => [
  ...streamAdmin(`KV_${bucket}`),
  ...streamRead(`KV_${bucket}`),
  `$KV.${bucket}.>`,
];

const objectStoreOwner = (store: string) => [
  ...streamAdmin(`OBJ_${store}`),
  ...streamRead(`OBJ_${store}`),
  // Replacing an object purges its old chunks.
  `${API}.STREAM.PURGE.OBJ_${store}`,
  `$O.${store}.>`,
];

const workerBasics = (service: ServiceNeeds) => {
  const stream = `KV_${BUCKETS.jobAttempts.name}`;
  return [
    // createMessaging ensures the dead-letter stream and the attempt log on every worker start.
    ...streamAdmin(STREAMS.DLQ.name),
    ...streamAdmin(stream),
    // Buckets read through the stream leader (ensureBucket: allow_direct false), whose request
    // carries the key in its body: reads cannot be limited per key, writes below are.
    `${API}.STREAM.MSG.GET.${stream}`,
    ...service.jobs.flatMap((job) => [
      deadLetterSubject(job.stream, job.consumer),
      // Attempt-log keys are `<stream>.<consumer>.<seq>`: a worker writes only its own consumers' keys.
      `$KV.${BUCKETS.jobAttempts.name}.${job.stream}.${job.consumer}.>`,
    ]),
  ];
};

const unique = (list: string[]) => [...new Set(list)];

export const permissionsFor = (name: ServiceName): Permissions => {
  const service = NEEDS[name];
  const publish = [
    // jetstreamManager() checks the account's JetStream on connect.
    `${API}.INFO`,
    ...service.streams.flatMap((s) => streamAdmin(s.name)),
    ...service.publishes,
    ...service.jobs.flatMap((job) => consumerUse(job.stream, job.consumer)),
    ...(service.runtime ? workerBasics(service) : []),
    ...service.buckets.flatMap((b) => bucketOwner(b.name)),
    ...service.objectStores.flatMap((o) => objectStoreOwner(o.name)),
    ...service.readsObjectStores.flatMap((o) => streamRead(`OBJ_${o.name}`)),
    ...service.calls,
  ];
  const subscribe = [`${inboxPrefix(name)}.>`, ...service.serves];
  return { publish: unique(publish), subscribe: unique(subscribe), allowResponses: service.serves.length > 0 };
};

/** Environment variable (in the server's environment) holding a user's password. */
export const passwordVariable = (user: string) => `NATS_PASSWORD_${user.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** The operator/CLI user: everything in the application account (streams, DLQ replay, purges). */
export const ADMIN_USER = 'admin';
/** The system-account user for `nats server report` and friends. */
export const SYSTEM_USER = 'system';

const quote = (s: string) => JSON.stringify(s);
const list = (items: string[], indent: string) => `[\n${items.map((i) => `${indent}  ${quote(i)}`).join(',\n')}\n${indent}]`;

/** The accounts block included by server.conf and cluster.conf. */
export const renderAccounts = (): string => {
  const users = SERVICES.map((name) => {
    const p = permissionsFor(name);
    const indent = '          ';
    return [
      `      # ${name}`,
      `      {`,
      `        user: ${quote(name)}`,
      `        password: $${passwordVariable(name)}`,
      `        permissions: {`,
      `          publish: {`,
      `            allow: ${list(p.publish, '            ')}`,
      `          }`,
      `          subscribe: {`,
      `            allow: ${list(p.subscribe, '            ')}`,
      `          }`,
      ...(p.allowResponses ? [`${indent}# replies to requests it serves, to whichever inbox asked`, `${indent}allow_responses: true`] : []),
      `        }`,
      `      }`,
    ].join('\n');
  });
  return [
    '# GENERATED by `node --import tsx deploy/nats/generate.ts` from shared/contracts: do not edit.',
    '# Passwords come from the server\'s environment (a Kubernetes Secret); the config holds none.',
    '',
    'accounts: {',
    `  ${APP_ACCOUNT}: {`,
    '    jetstream: enabled',
    '    users: [',
    `      # operators and the CLI: everything in the account`,
    `      { user: ${quote(ADMIN_USER)}, password: $${passwordVariable(ADMIN_USER)} }`,
    ...users,
    '    ]',
    '  }',
    '  SYS: {',
    `    users: [ { user: ${quote(SYSTEM_USER)}, password: $${passwordVariable(SYSTEM_USER)} } ]`,
    '  }',
    '}',
    'system_account: SYS',
    '',
  ].join('\n');
};

/** Every password variable the configs reference (the Secret must carry each one). */
export const PASSWORD_VARIABLES = [ADMIN_USER, ...SERVICES, SYSTEM_USER].map(passwordVariable);
