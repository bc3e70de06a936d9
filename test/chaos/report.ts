import type { ChaosMail } from './chaos-smtp.ts';
import { explainDuplicates, type Incarnation } from './worker-logs.ts';
import type { Kill } from './workers.ts';

/** Everything the chaos run observed; `verdict` turns it into pass/fail. */
export interface ChaosFacts {
  orderIds: string[];
  /** Order id → its status at the end. */
  orderStatus: Map<string, string>;
  /** Every tickets.ready in TICKET_EVENTS, by order id. */
  readyEvents: string[];
  knownUsers: string[];
  unknownUsers: string[];
  mails: ChaosMail[];
  kills: Kill[];
  natsRestarts: number;
  smtpOutageMs: number;
  /** Magic-link requests the client sent again after a 503 or a dropped connection. */
  clientRetries: number;
  deadLetters: Array<{ job: string; reason: string; error: string }>;
  backlog: Array<{
    stream: string;
    consumer: string;
    pending: number;
    ackPending: number;
    /** Stored messages of the consumer's subject between its ack floor and last delivery. */
    unacked: number[];
    /** Sequences of that range the stream has deleted (an ack-pending entry there is a phantom). */
    deletedInRange: number;
    detail?: string;
    info?: string;
  }>;
  /** Every worker process of the run with its log, for matching duplicates to kills and following a stuck message. */
  incarnations: Incarnation[];
  /** Lines about what did not finish (empty on a clean run). */
  diagnostics: string[];
  converged: boolean;
  restartFailures: string[];
  /** Orders or magic-link requests the client could not get accepted even with retries. */
  loadFailures: string[];
  durationMs: number;
}

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

export interface ChaosReport {
  summary: Record<string, unknown>;
  checks: Check[];
  diagnostics: string[];
  pass: boolean;
}

const histogram = (counts: Iterable<number>) => {
  const out: Record<string, number> = {};
  for (const c of counts) out[String(c)] = (out[String(c)] ?? 0) + 1;
  return out;
};

const histogramBy = (keys: string[]) => {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
};

const ticketMailId = (orderId: string) => `<tickets-${orderId}@`;
const few = (list: string[]) => (list.length > 5 ? `${list.slice(0, 5).join(', ')} … (${list.length})` : list.join(', '));

/** The acceptance of issue 9 (chaos) as data: one check per line, each with what it saw. */
export const verdict = (facts: ChaosFacts): ChaosReport => {
  const readyPerOrder = new Map(facts.orderIds.map((id) => [id, 0]));
  for (const id of facts.readyEvents) readyPerOrder.set(id, (readyPerOrder.get(id) ?? 0) + 1);
  const ticketMailsPerOrder = new Map(
    facts.orderIds.map((id) => [id, facts.mails.filter((m) => m.messageId.startsWith(ticketMailId(id))).length]),
  );
  const magicMails = facts.mails.filter((m) => m.messageId.startsWith('<magic-link-'));
  const mailsTo = (email: string) => magicMails.filter((m) => m.to.includes(email)).length;
  const perKnownUser = new Map(facts.knownUsers.map((u) => [u, mailsTo(u)]));
  const unknownWithMail = facts.unknownUsers.filter((u) => mailsTo(u) > 0);

  const byMessageId = new Map<string, number>();
  for (const m of facts.mails) byMessageId.set(m.messageId, (byMessageId.get(m.messageId) ?? 0) + 1);
  const duplicateIds = [...byMessageId].filter(([, n]) => n > 1);
  const duplicates = duplicateIds.reduce((sum, [, n]) => sum + n - 1, 0);
  const explanations = explainDuplicates(byMessageId, facts.incarnations);
  const unexplained = explanations.filter((e) => e.unexplained > 0);
  const mailerKills = facts.kills.filter((k) => k.service === 'mailer');
  const killsDuringSend = mailerKills.filter((k) => k.duringSend).length;
  const unfinished = facts.backlog.reduce((sum, c) => sum + c.pending + c.ackPending, 0);
  const completed = facts.orderIds.filter((id) => facts.orderStatus.get(id) === 'sent').length;

  const notOne = facts.orderIds.filter((id) => readyPerOrder.get(id) !== 1);
  const noMail = facts.orderIds.filter((id) => (ticketMailsPerOrder.get(id) ?? 0) < 1);
  const knownWithout = facts.knownUsers.filter((u) => (perKnownUser.get(u) ?? 0) < 1);
  const checks: Check[] = [
    { name: 'every request of the load was accepted', pass: facts.loadFailures.length === 0, detail: facts.loadFailures.length ? few(facts.loadFailures) : 'all' },
    { name: 'the system converged (every order sent, every queue drained)', pass: facts.converged, detail: facts.converged ? 'yes' : 'timed out' },
    { name: 'every order completed (status sent)', pass: completed === facts.orderIds.length, detail: `${completed}/${facts.orderIds.length}` },
    { name: 'every order has exactly one tickets.ready', pass: notOne.length === 0, detail: notOne.length ? `not one: ${few(notOne)}` : `${facts.orderIds.length} orders × 1` },
    { name: 'every order has at least one tickets email', pass: noMail.length === 0, detail: noMail.length ? `missing: ${few(noMail)}` : 'all' },
    { name: 'every known user got a magic-link email', pass: knownWithout.length === 0, detail: knownWithout.length ? `missing: ${few(knownWithout)}` : `${facts.knownUsers.length}/${facts.knownUsers.length}` },
    { name: 'no unknown address got an email', pass: unknownWithMail.length === 0, detail: unknownWithMail.length ? few(unknownWithMail) : 'none' },
    { name: 'no message left unacked or pending', pass: unfinished === 0, detail: facts.backlog.filter((c) => c.pending + c.ackPending > 0).map((c) => `${c.stream}/${c.consumer} pending ${c.pending} ack-pending ${c.ackPending}${c.detail ? ` (${c.detail})` : ''}`).join('; ') || '0' },
    { name: 'no dead letters (none caused on purpose)', pass: facts.deadLetters.length === 0, detail: facts.deadLetters.map((d) => `${d.job} ${d.reason}: ${d.error.slice(0, 120)}`).join('; ') || '0' },
    {
      name: 'every duplicate email is explained by a mailer killed while it held that mail',
      pass: unexplained.length === 0,
      detail:
        explanations
          .map((e) => `${e.messageId}×${e.copies}: ${[...e.explainedBy, ...e.unknownOutcomes].join('; ') || 'no kill explains it'}${e.unexplained ? ` — ${e.unexplained} unexplained` : ''}`)
          .join(' | ') ||
        `no duplicates; ${killsDuringSend} of ${mailerKills.length} mailer kills hit a send`,
    },
  ];
  return {
    summary: {
      durationSeconds: Math.round(facts.durationMs / 1000),
      orders: facts.orderIds.length,
      ordersCompleted: completed,
      ticketsReadyPerOrder: histogram(readyPerOrder.values()),
      ticketEmailsPerOrder: histogram(ticketMailsPerOrder.values()),
      magicLinkRequests: facts.knownUsers.length + facts.unknownUsers.length,
      knownUsers: facts.knownUsers.length,
      magicLinkEmailsPerKnownUser: histogram(perKnownUser.values()),
      unknownUsersWithEmail: unknownWithMail.length,
      emailsTotal: facts.mails.length,
      duplicateEmails: duplicates,
      duplicatesUnexplained: unexplained.reduce((sum, e) => sum + e.unexplained, 0),
      kills: facts.kills.length,
      killsByService: histogramBy(facts.kills.map((k) => k.service)),
      mailerKillsDuringSend: killsDuringSend,
      natsServerRestarts: facts.natsRestarts,
      smtpOutageSeconds: Math.round(facts.smtpOutageMs / 1000),
      clientRetriesAfter503: facts.clientRetries,
      deadLetters: facts.deadLetters.length,
      unackedOrPending: unfinished,
      restartFailures: facts.restartFailures.length,
    },
    checks,
    diagnostics: facts.diagnostics,
    pass: checks.every((c) => c.pass),
  };
};

export const formatReport = (report: ChaosReport): string => {
  const lines = ['chaos report', ...Object.entries(report.summary).map(([k, v]) => `  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`), 'checks'];
  for (const c of report.checks) lines.push(`  [${c.pass ? 'PASS' : 'FAIL'}] ${c.name} — ${c.detail}`);
  if (report.diagnostics.length) lines.push('diagnostics', ...report.diagnostics.map((d) => `  ${d}`));
  lines.push(`verdict: ${report.pass ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
};
