import { MAIL_JOBS } from './mail.ts';
import type { LaneSpec } from './spec.ts';
import { ticketsReadyMailJob } from './tickets.ts';

/**
 * The mailer's lanes to the SMTP provider. A person waits for a sign-in link; nobody waits for a
 * tickets email by the second. Both are jobs of their own (mail.send on MAIL, tickets.ready on
 * TICKET_EVENTS) with their own slots, so a backlog of tickets never holds a sign-in job; where
 * they meet — the send slots under MAIL_RATE_PER_SEC — sign-in goes first, and bulk still gets at
 * least one slot in five while both wait.
 */
export const MAIL_LANES = {
  signin: {
    name: 'signin',
    priority: 0,
    jobs: [MAIL_JOBS.send],
    description: 'sign-in links: always the next free send slot',
  },
  bulk: {
    name: 'bulk',
    priority: 1,
    maxSkipped: 4,
    jobs: [ticketsReadyMailJob],
    description: 'tickets emails with their PDFs: the slots sign-in leaves, and never fewer than one in five',
  },
} as const satisfies Record<string, LaneSpec>;

export type MailLane = keyof typeof MAIL_LANES;
