/**
 * What each service may publish and subscribe to, derived from the contracts: the subjects it
 * publishes and serves, the `$JS.API` subjects of the streams, consumers, KV buckets and object
 * stores it touches, and its own inbox prefix. `generate.ts` renders this into accounts.conf; a
 * test checks the committed file matches, so a new consumer or bucket cannot silently lack (or
 * gain) a permission.
 */
import { AUTH_JOBS } from '#shared/contracts/auth';
import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { JOBS } from '#shared/contracts/jobs';
import { MAIL_JOBS } from '#shared/contracts/mail';
import { orderExpiryJob, orderReminderJob } from '#shared/contracts/orders';
import { ownedBy } from '#shared/contracts/ownership';
import { paymentReceivedJob } from '#shared/contracts/payments';
import type { BucketSpec, JobSpec, ObjectStoreSpec, ServiceName, StreamSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { deadLetterSubject, SUBJECTS } from '#shared/contracts/subjects';
import { defaultInboxPrefix } from '#shared/nats/connect';
import { generateTicketJob, ticketGeneratedJob, ticketsMailFailedJob, ticketsReadyMailJob, ticketsSentJob } from '#shared/contracts/tickets';

export type { ServiceName } from '#shared/contracts/spec';
export const SERVICES = ['gateway', 'webhook-ingest', 'auth', 'ticketing', 'mailer', 'console'] as const satisfies readonly ServiceName[];

/** The account every service user lives in; KEDA's nats-jetstream trigger names it too. */
export const APP_ACCOUNT = 'HANDOFF';

/**
 * Per-service inbox prefix: a service can subscribe to replies addressed to itself only. The
 * client derives it from its connection name, which is the service name.
 */
export const inboxPrefix = (service: string) => defaultInboxPrefix(service);

export interface ServiceNeeds {
  /** Runs jobs: writes its own attempt-log keys and publishes its own dead letters. */
  runtime: boolean;
  /** Streams, buckets and object stores it owns: create, update, use (from the contracts). */
  streams: readonly StreamSpec[];
  buckets: readonly BucketSpec[];
  objectStores: readonly ObjectStoreSpec[];
  /** Subjects it publishes into streams (PubAck comes back on its inbox). */
  publishes: readonly string[];
  /** Durable consumers it ensures and pulls from through the job runner. */
  jobs: readonly JobSpec<never>[];
  /** Object stores of another service it reads (published artifacts). */
  readsObjectStores: readonly ObjectStoreSpec[];
  /** Request/reply subjects it serves (in a queue group); replies go out via allow_responses. */
  serves: readonly string[];
  /** Request/reply subjects it calls. */
  calls: readonly string[];
  /** Event streams of another service it follows live, through one ordered consumer per process. */
  watches?: readonly StreamSpec[];
  /** Streams of its own whose stored messages it reads back by sequence. */
  readsMessagesOf?: readonly string[];
  /** The operators' console: reads every stream's and consumer's state, reads, deletes and replays dead letters. */
  operator?: boolean;
}

const jobs = (...list: JobSpec<never>[]): JobSpec<never>[] => list;
const rpcOf = (prefix: string) => Object.values(SUBJECTS).filter((s) => s.startsWith(prefix));
const readersOf = (service: ServiceName) => Object.values(OBJECT_STORES).filter((o) => (o.readers as readonly string[] | undefined)?.includes(service));

/** Every job subject a dead letter may be replayed to: the consumers' filter subjects in the contracts. */
export const REPLAY_TARGETS = [...new Set(JOBS.map((j) => j.subject))];

const service = (name: ServiceName, rest: Omit<ServiceNeeds, 'streams' | 'buckets' | 'objectStores' | 'readsObjectStores'>): ServiceNeeds => ({
  ...ownedBy(name),
  readsObjectStores: readersOf(name),
  ...rest,
});

export const NEEDS: Record<ServiceName, ServiceNeeds> = {
  gateway: service('gateway', {
    runtime: false,
    publishes: [SUBJECTS.magicLinkRequested],
    jobs: [],
    serves: [],
    // Not auth.rpc.add_user: adding users is an operator's job (the CLI runs as admin).
    calls: [SUBJECTS.authVerifyToken, SUBJECTS.authGetSession, SUBJECTS.authEndSession, ...rpcOf('ticketing.rpc.')],
    // Live order views (GET /orders/:id/events): the order-change events, read only.
    watches: [STREAMS.ORDER_EVENTS],
  }),
  'webhook-ingest': service('webhook-ingest', {
    runtime: false,
    publishes: [SUBJECTS.paymentReceived],
    jobs: [],
    serves: [],
    calls: [],
    // A duplicate webhook-id: the stored event's body digest is compared with the new one.
    readsMessagesOf: [STREAMS.PAYMENTS.name],
  }),
  auth: service('auth', {
    runtime: true,
    publishes: [SUBJECTS.mailSend],
    jobs: jobs(AUTH_JOBS.magicLink as JobSpec<never>),
    serves: rpcOf('auth.rpc.'),
    calls: [],
  }),
  ticketing: service('ticketing', {
    runtime: true,
    publishes: [
      SUBJECTS.ticketGenerate,
      SUBJECTS.ticketGenerated,
      SUBJECTS.ticketsReady,
      // An order's deadlines: delayed jobs, held as schedules on 2.12+; and its payment reminder.
      SUBJECTS.orderReminderDue,
      SUBJECTS.orderExpiryDue,
      `${SUBJECTS.orderSchedules}.>`,
      SUBJECTS.mailSend,
      ...STREAMS.ORDER_EVENTS.subjects,
    ],
    jobs: jobs(
      paymentReceivedJob as JobSpec<never>,
      generateTicketJob as JobSpec<never>,
      ticketGeneratedJob as JobSpec<never>,
      ticketsSentJob as JobSpec<never>,
      ticketsMailFailedJob as JobSpec<never>,
      orderReminderJob as JobSpec<never>,
      orderExpiryJob as JobSpec<never>,
    ),
    serves: rpcOf('ticketing.rpc.'),
    calls: [],
  }),
  mailer: service('mailer', {
    runtime: true,
    publishes: [SUBJECTS.ticketsSent, SUBJECTS.ticketsMailFailed],
    jobs: jobs(MAIL_JOBS.send as JobSpec<never>, ticketsReadyMailJob as JobSpec<never>),
    serves: [],
    calls: [],
  }),
  console: service('console', {
    runtime: false,
    publishes: REPLAY_TARGETS,
    jobs: [],
    serves: [],
    calls: [SUBJECTS.ordersGet, SUBJECTS.ordersList],
    operator: true,
  }),
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

/** The state of a stream it uses but does not own: never create, update or delete. */
const streamInfo = (name: string) => [`${API}.STREAM.INFO.${name}`];

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

/**
 * Reading objects another service publishes: the stream's state and message gets (direct and
 * through the leader), no consumers. shared/nats/object-reader.ts reads this way, and the server
 * refuses a reader that would leave a consumer per read on the store (2.10+ cap consumers per stream).
 */
const objectRead = (stream: string) => [
  `${API}.STREAM.INFO.${stream}`,
  `${API}.STREAM.MSG.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}.>`,
];

/**
 * Following an event stream from now on: an ordered consumer (ephemeral, no acks, in memory),
 * which the client deletes and recreates from its last sequence after a gap or a reconnect.
 * Nothing is acknowledged and nothing in the stream can be changed.
 */
const streamWatch = (stream: string) => [
  `${API}.STREAM.INFO.${stream}`,
  `${API}.CONSUMER.CREATE.${stream}`,
  `${API}.CONSUMER.CREATE.${stream}.>`,
  `${API}.CONSUMER.INFO.${stream}.>`,
  `${API}.CONSUMER.DELETE.${stream}.>`,
  `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
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
    // The operators' runtime pauses (servers before 2.11), watched by every runner: read only.
    ...streamRead(`KV_${BUCKETS.queuePauses.name}`),
    // The dead-letter stream and the attempt log belong to the console: workers use them as they are.
    ...streamInfo(stream),
    // Buckets read through the stream leader (ensureBucket: allow_direct false), whose request
    // carries the key in its body: reads cannot be limited per key, writes below are.
    `${API}.STREAM.MSG.GET.${stream}`,
    ...service.jobs.flatMap((job) => [
      ...streamInfo(job.stream),
      deadLetterSubject(job.stream, job.consumer),
      // Attempt-log keys are `<stream>.<consumer>.<seq>`: a worker writes only its own consumers' keys.
      `$KV.${BUCKETS.jobAttempts.name}.${job.stream}.${job.consumer}.>`,
      // Job events `<prefix>.<job hash>.<kind>.<stream>.<consumer>`: only of its own consumers.
      `${SUBJECTS.jobEventPrefix}.*.*.${job.stream}.${job.consumer}`,
    ]),
  ];
};

/**
 * The console: the state of every stream and consumer, the dead letters it reads, deletes and
 * replays, the job events it reads, and pausing and resuming consumers.
 */
const operatorBasics = () => [
  `${API}.STREAM.NAMES`,
  `${API}.STREAM.LIST`,
  `${API}.STREAM.INFO.*`,
  `${API}.CONSUMER.NAMES.*`,
  `${API}.CONSUMER.LIST.*`,
  `${API}.CONSUMER.INFO.*.*`,
  // The oldest unacknowledged message of each queue (its age), and dead letters by sequence: the
  // console lists them with message gets, never with a consumer (shared/nats/stream-reader.ts).
  `${API}.STREAM.MSG.GET.*`,
  `${API}.STREAM.MSG.DELETE.${STREAMS.DLQ.name}`,
  // The rates: one ordered consumer over the last hour of job events.
  ...streamRead(STREAMS.JOB_EVENTS.name),
  // Pause and resume on servers with consumer pause (2.11+); older ones use queue_pauses, its own bucket.
  `${API}.CONSUMER.PAUSE.*.*`,
];

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
    ...service.readsObjectStores.flatMap((o) => objectRead(`OBJ_${o.name}`)),
    ...(service.readsMessagesOf ?? []).map((stream) => `${API}.STREAM.MSG.GET.${stream}`),
    ...(service.watches ?? []).flatMap((stream) => streamWatch(stream.name)),
    ...(service.operator ? operatorBasics() : []),
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
