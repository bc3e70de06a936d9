import type { BucketSpec, ObjectStoreSpec } from './spec.ts';

const HOUR = 3_600_000;
const GIB = 1024 ** 3;
const DAY = 24 * HOUR;

/** KV buckets: each has one owning service; others ask the owner or react to its events. */
export const BUCKETS = {
  users: { name: 'users', description: 'users by normalised email', owner: 'auth' },
  magicTokens: {
    name: 'magic_tokens',
    ttlMs: DAY,
    description: 'SHA-256 of magic-link tokens with their expiry; the raw token is never stored',
    owner: 'auth',
  },
  sessions: {
    name: 'sessions',
    ttlMs: 30 * DAY,
    description: 'sessions by SHA-256 of the session id, each with its own expiry',
    owner: 'auth',
  },
  rateLimits: {
    name: 'rate_limits',
    ttlMs: HOUR,
    description: 'fixed-window request counters shared by every gateway replica',
    owner: 'gateway',
  },
  magicLinkLimits: {
    name: 'magic_link_limits',
    ttlMs: HOUR,
    description: 'fixed-window counters of sign-in mails per email address and per email and client network, shared by every auth replica: the bound on mail whatever the gateways let through',
    owner: 'auth',
  },
  consoleLimits: {
    name: 'console_limits',
    ttlMs: HOUR,
    description: 'fixed-window counters of operator sign-ins and refused bearer tokens',
    owner: 'console',
  },
  consoleSessions: {
    name: 'console_sessions',
    // As long as an operator's sign-in cookie lives: a record outlives no cookie.
    ttlMs: 12 * HOUR,
    description: 'signed-in operator sessions of the console, by SHA-256 of the session id; sign-out deletes one',
    owner: 'console',
  },
  orders: {
    name: 'orders',
    description: 'orders and their status, and each user\'s order index',
    owner: 'ticketing',
    // About a million typical orders (1 KB; at most ~80 KB with 100 long names), with the per-user
    // hourly limit at the gateway: signed-in users cannot grow it without bound. At the bound, new
    // orders get 503 and ticketing logs "orders bucket is full"; raise it here (ensured at start).
    maxBytes: GIB,
  },
  ticketProgress: {
    name: 'ticket_progress',
    ttlMs: 30 * DAY,
    description: 'per-order aggregator records: expected and completed tickets',
    owner: 'ticketing',
  },
  mailSent: {
    name: 'mail_sent',
    ttlMs: 30 * DAY,
    description: 'per mail: the claim of the mailer sending it, then its sent-record; a redelivered mail job is never sent twice',
    owner: 'mailer',
  },
  mailRate: {
    name: 'mail_rate',
    ttlMs: DAY,
    history: 1,
    description: 'the SMTP send slots shared by every mailer replica: next free slot, lanes waiting, lanes slowed down by the provider',
    owner: 'mailer',
  },
  queuePauses: {
    name: 'queue_pauses',
    history: 1,
    description: 'queues paused by the operators on servers without consumer pause (before 2.11): `<stream>` or `<stream>.<consumer>`',
    owner: 'console',
  },
  jobAttempts: {
    name: 'job_attempts',
    ttlMs: 30 * DAY,
    history: 1,
    description: 'failed-attempt history of jobs still retrying (written only on failure, by every worker)',
    // Written by every worker's runner; created and changed only by the operators' service.
    owner: 'console',
    writtenByOthers: true,
  },
} as const satisfies Record<string, BucketSpec>;

export const OBJECT_STORES = {
  // A published artifact: ticketing writes each PDF once; the gateway (downloads) and the mailer
  // (attachments) read it by name, read-only, without asking ticketing to relay megabytes.
  tickets: { name: 'tickets', description: 'rendered ticket PDFs', owner: 'ticketing', readers: ['gateway', 'mailer'] },
} as const satisfies Record<string, ObjectStoreSpec>;
