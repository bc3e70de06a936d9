/**
 * Every subject of the system, `<domain>.<entity-or-job>.<event>`. A subject literal anywhere else
 * is a bug. Request/reply subjects (`*.rpc.*`) are core NATS and must stay outside every stream.
 */
export const SUBJECTS = {
  magicLinkRequested: 'auth.magic_link.requested',
  mailSend: 'mail.send',
  paymentReceived: 'payments.event.received',
  ticketGenerate: 'tickets.generate',
  ticketGenerated: 'tickets.generated',
  ticketsReady: 'tickets.ready',
  ticketsSent: 'tickets.sent',
  ticketsMailFailed: 'tickets.mail_failed',
  /** `orders.changed.<orderId>`: an order's status or ticket count moved (see orderChangedSubject). */
  ordersChanged: 'orders.changed',
  /** Delayed jobs at an order's deadlines (stream ORDER_DEADLINES). */
  orderReminderDue: 'orders.reminder.due',
  orderExpiryDue: 'orders.expiry.due',
  /** `orders.scheduled.<job id>`: where those jobs wait as server-side schedules (2.12+). */
  orderSchedules: 'orders.scheduled',
  deadLetterPrefix: 'dlq',
  /** `jobs.event.<job-id hash>.<started|finished>.<stream>.<consumer>`: one event per attempt start and end. */
  jobEventPrefix: 'jobs.event',

  authVerifyToken: 'auth.rpc.verify_token',
  authGetSession: 'auth.rpc.get_session',
  authEndSession: 'auth.rpc.end_session',
  authAddUser: 'auth.rpc.add_user',
  ordersCreate: 'ticketing.rpc.create_order',
  ordersGet: 'ticketing.rpc.get_order',
  ordersList: 'ticketing.rpc.list_orders',
} as const;

/** The subject of one order's change events; the stream and its watchers use `orders.changed.*`. */
export const orderChangedSubject = (orderId: string): string => `${SUBJECTS.ordersChanged}.${orderId}`;

/** Dead letters of a consumer go to `dlq.<stream>.<consumer>`. */
export const deadLetterSubject = (stream: string, consumer: string): string =>
  `${SUBJECTS.deadLetterPrefix}.${stream}.${consumer}`;
